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
    private DockerConnection(DockerClient client, bool engineIsLocal, Uri endpoint, DockerEngineSet? engines)
    {
        Client = client;
        EngineIsLocal = engineIsLocal;
        Endpoint = endpoint;
        Engines = engines ?? new DockerEngineSet(this, [], null);
    }

    internal DockerClient Client { get; }

    /// <summary>
    /// True when the engine runs on this machine (a unix socket, a named pipe or a loopback TCP
    /// address), so a port that is free here is free for the engine's port bindings too.
    /// </summary>
    public bool EngineIsLocal { get; }

    /// <summary>The engine's URL.</summary>
    public Uri Endpoint { get; }

    /// <summary>
    /// The session's engine and the others it reaches (clusters with members on several engines):
    /// connections made once per command, and which engine holds which container.
    /// </summary>
    public DockerEngineSet Engines { get; }

    public static Task<DockerConnection> ConnectAsync(string? dockerHost, CancellationToken ct) =>
        ConnectAsync(dockerHost, [], null, ct);

    /// <remarks>additionalHosts: More engines whose clusters Get-EtcdCluster lists (Set-K3dEtcdOption -DockerHost a, b, c).
    /// certPath: The docker CLI's TLS directory for tcp:// engines (else DOCKER_CERT_PATH with DOCKER_TLS_VERIFY).</remarks>
    public static async Task<DockerConnection> ConnectAsync(string? dockerHost, IReadOnlyList<string> additionalHosts, string? certPath, CancellationToken ct)
    {
        var endpoint = DockerEndpointResolver.Resolve(dockerHost);
        var client = await DockerClientFactory.ConnectAsync(endpoint, certPath, ct).ConfigureAwait(false);
        var connection = new DockerConnection(client, IsLocal(endpoint.Uri), endpoint.Uri, null);
        connection.Engines.Configure(additionalHosts, certPath);
        return connection;
    }

    /// <summary>Another engine of the same session: it shares the session's engine set.</summary>
    internal static async Task<DockerConnection> ConnectOtherAsync(Uri endpoint, DockerEngineSet engines, string? certPath, CancellationToken ct)
    {
        var client = await DockerClientFactory.ConnectAsync(new DockerEndpoint(endpoint, "cluster engine list"), certPath, ct).ConfigureAwait(false);
        return new DockerConnection(client, IsLocal(endpoint), endpoint, engines);
    }

    internal static bool IsLocal(Uri engine) =>
        engine.Scheme is "unix" or "npipe" || (IPAddress.TryParse(engine.Host.Trim('[', ']'), out var ip) ? IPAddress.IsLoopback(ip) : engine.Host == "localhost");

    public void Dispose()
    {
        if (Engines.Session == this) Engines.Dispose();
        Client.Dispose();
    }
}

/// <summary>Turns failures of the engine's libraries into our own exception with a stable ErrorId.</summary>
public static class EngineErrors
{
    public static K3dEtcdException? Translate(Exception ex, object? target = null) => ex switch
    {
        K3dEtcdException k => k,
        DockerApiException d => Translate(DockerAdapter.Translate(d), target),
        DockerOperationException d => new K3dEtcdException(
            d.StatusCode switch
            {
                HttpStatusCode.NotFound => ErrorCatalog.DockerObjectNotFound,
                HttpStatusCode.Conflict => ErrorCatalog.DockerConflict,
                _ => ErrorCatalog.DockerOperationFailed,
            },
            $"Docker: {d.DockerMessage}", target, d),
        _ => null,
    };
}
