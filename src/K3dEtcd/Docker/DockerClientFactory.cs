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
        var builder = new DockerClientBuilder();
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            if (!Uri.TryCreate(dockerHost, UriKind.Absolute, out var uri))
            {
                throw new K3dEtcdException("InvalidDockerHost", FailureKind.InvalidArgument,
                    $"'{dockerHost}' is not a Docker endpoint URI (for example unix:///var/run/docker.sock or tcp://127.0.0.1:2375).", dockerHost);
            }
            builder = builder.WithEndpoint(uri);
        }

        DockerClient client;
        try
        {
            client = builder.Build();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new K3dEtcdException("DockerUnreachable", FailureKind.ConnectionError,
                $"Cannot configure a Docker client ({DescribeEndpoint(dockerHost)}): {ex.Message}", dockerHost, ex);
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
            throw new K3dEtcdException("DockerUnreachable", FailureKind.ConnectionError,
                $"The Docker engine at {DescribeEndpoint(dockerHost)} does not answer ({reason}). Start Docker, or point DOCKER_HOST at a running engine.",
                dockerHost, ex);
        }
    }

    private static string DescribeEndpoint(string? dockerHost) =>
        !string.IsNullOrWhiteSpace(dockerHost) ? dockerHost
        : Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } env ? $"{env} (DOCKER_HOST)"
        : "the default endpoint";
}
