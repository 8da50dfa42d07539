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

    public static async Task<DockerClient> ConnectAsync(string? dockerHost, CancellationToken ct)
    {
        var endpoint = DockerEndpointResolver.Resolve(dockerHost);
        DockerClient client;
        try
        {
            client = new DockerClientBuilder().WithEndpoint(endpoint.Uri).Build();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
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
                $"The Docker engine at {endpoint.Uri} ({endpoint.Source}) does not answer ({reason}). Start Docker, or point DOCKER_HOST (or Set-K3dEtcdOption -DockerHost) at a running engine.",
                endpoint.Uri.ToString(), ex);
        }
    }
}
