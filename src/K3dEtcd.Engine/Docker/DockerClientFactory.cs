using Docker.DotNet;
using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// Connects to the Docker engine the way the docker CLI does (DOCKER_HOST, then the current
/// Docker context, then the platform default socket or pipe), and fails fast when none answers.
/// </summary>
public static class DockerClientFactory
{
    /// <summary>How long to wait for the engine to answer a ping before giving up.</summary>
    public static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(5);

    public static Task<DockerClient> ConnectAsync(string? dockerHost, CancellationToken ct)
    {
        var endpoint = DockerEndpointResolver.Resolve(dockerHost);
        return ConnectAsync(endpoint, null, ct);
    }

    /// <summary>Connects to one endpoint; tcp:// speaks TLS with the docker CLI's certificate layout when <see cref="DockerTls.Directory"/> says so.</summary>
    public static async Task<DockerClient> ConnectAsync(DockerEndpoint endpoint, string? certPath, CancellationToken ct)
    {
        DockerClient client;
        var tlsDirectory = DockerTls.Directory(endpoint.Uri, certPath);
        try
        {
            var builder = new DockerClientBuilder().WithEndpoint(endpoint.Uri);
            // TLS client certificates need the SocketsHttpHandler transport (the default for tcp:// is the managed one).
            client = tlsDirectory is null
                ? builder.Build()
                : builder.WithAuthProvider(DockerTls.Load(endpoint.Uri, tlsDirectory)).WithTransportOptions(new global::Docker.DotNet.NativeHttp.NativeHttpTransportOptions()).Build();
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or K3dEtcdException))
        {
            throw new K3dEtcdException(ErrorCatalog.DockerUnreachable,
                $"Cannot configure a Docker client for {endpoint.Uri} ({endpoint.Source}): {ex.Message}", endpoint.Uri.ToString(), ex);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PingTimeout);
        try
        {
            await client.System.PingAsync(timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            client.Dispose();
            var reason = ex is OperationCanceledException ? $"no answer within {PingTimeout.TotalSeconds:0} s" : ex.GetBaseException().Message;
            throw new K3dEtcdException(ErrorCatalog.DockerUnreachable,
                $"The Docker engine at {endpoint.Uri} ({endpoint.Source}{(tlsDirectory is null ? "" : $", TLS from {tlsDirectory}")}) does not answer ({reason}). Start Docker, or point DOCKER_HOST (or Set-K3dEtcdOption -DockerHost) at a running engine.",
                endpoint.Uri.ToString(), ex);
        }
    }
}
