using System.Net;
using Docker.DotNet;
using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// A connected Docker engine as the cmdlets hold it. Cmdlets live in PowerShell's default load
/// context and must never name a Docker.DotNet type (that assembly lives in the module's private
/// load context), so they pass this wrapper to the services instead of the client itself.
/// </summary>
public sealed class DockerConnection : IDisposable
{
    private DockerConnection(DockerClient client, bool engineIsLocal)
    {
        Client = client;
        EngineIsLocal = engineIsLocal;
    }

    internal DockerClient Client { get; }

    /// <summary>
    /// True when the engine runs on this machine (a unix socket, a named pipe or a loopback TCP
    /// address), so a port that is free here is free for the engine's port bindings too.
    /// </summary>
    public bool EngineIsLocal { get; }

    public static async Task<DockerConnection> ConnectAsync(string? dockerHost, CancellationToken ct)
    {
        var endpoint = DockerEndpointResolver.Resolve(dockerHost);
        return new(await DockerClientFactory.ConnectAsync(dockerHost, ct).ConfigureAwait(false), IsLocal(endpoint.Uri));
    }

    internal static bool IsLocal(Uri engine) =>
        engine.Scheme is "unix" or "npipe" || (IPAddress.TryParse(engine.Host.Trim('[', ']'), out var ip) ? IPAddress.IsLoopback(ip) : engine.Host == "localhost");

    public void Dispose() => Client.Dispose();
}

/// <summary>Turns failures of the engine's libraries into our own exception with a stable ErrorId.</summary>
public static class EngineErrors
{
    public static K3dEtcdException? Translate(Exception ex, object? target = null) => ex switch
    {
        K3dEtcdException k => k,
        DockerApiException d => new K3dEtcdException(
            d.StatusCode switch
            {
                HttpStatusCode.NotFound => ErrorCatalog.DockerObjectNotFound,
                HttpStatusCode.Conflict => ErrorCatalog.DockerConflict,
                _ => ErrorCatalog.DockerOperationFailed,
            },
            $"Docker: {DockerAdapter.DockerMessage(d)}", target, d),
        _ => null,
    };
}
