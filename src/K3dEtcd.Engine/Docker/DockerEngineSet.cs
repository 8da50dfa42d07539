using System.Collections.Concurrent;
using Docker.DotNet;
using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// The Docker engines one command talks to: the session's engine and, for a cluster whose members
/// live on several engines, the others named in its labels. Each engine is connected at most once
/// per command; one that does not answer is remembered with its reason, so its members are shown
/// as unreachable instead of every later call waiting for it again. It also remembers which engine
/// holds which container and volume, so member operations (stop, kill, start, logs, remove) reach
/// the member's own engine through the one <see cref="DockerAdapter"/> the services already use.
/// </summary>
public sealed class DockerEngineSet : IDisposable
{
    private readonly ConcurrentDictionary<string, Task<(DockerConnection? Connection, string? Reason)>> _engines = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DockerConnection> _routes = new(StringComparer.Ordinal);
    private string? _certPath;

    internal DockerEngineSet(DockerConnection session, IReadOnlyList<string> additionalHosts, string? certPath)
    {
        Session = session;
        Configure(additionalHosts, certPath);
    }

    internal DockerConnection Session { get; }

    /// <summary>Engines besides the session's whose clusters are listed too (Set-K3dEtcdOption -DockerHost a, b, c).</summary>
    public IReadOnlyList<string> AdditionalHosts { get; private set; } = [];

    internal void Configure(IReadOnlyList<string> additionalHosts, string? certPath)
    {
        AdditionalHosts = additionalHosts.Select(h => Key(DockerEndpointResolver.Parse(h, "Set-K3dEtcdOption -DockerHost"))).Where(k => k != SessionKey).Distinct(StringComparer.Ordinal).ToArray();
        _certPath = certPath;
    }

    /// <summary>The one spelling of an engine URL in labels and lookups (no trailing slash).</summary>
    public static string Key(Uri engine) => engine.OriginalString.TrimEnd('/');

    public string SessionKey => Key(Session.Endpoint);

    /// <summary>The connection to an engine, or DockerEngineUnreachable (a per-item error: the other engines go on).</summary>
    public async Task<DockerConnection> ConnectAsync(string engine, CancellationToken ct)
    {
        var (connection, reason) = await TryConnectAsync(engine, ct).ConfigureAwait(false);
        return connection ?? throw Unreachable(engine, reason!);
    }

    public static K3dEtcdException Unreachable(string engine, string reason) =>
        new(ErrorCatalog.DockerEngineUnreachable, $"The Docker engine {engine} does not answer: {reason}", engine);

    /// <summary>The connection, or null and the reason it could not be made.</summary>
    public Task<(DockerConnection? Connection, string? Reason)> TryConnectAsync(string engine, CancellationToken ct)
    {
        var key = Key(DockerEndpointResolver.Parse(engine, "the cluster's engine list"));
        if (key == SessionKey) return Task.FromResult<(DockerConnection?, string?)>((Session, null));
        return _engines.GetOrAdd(key, async k =>
        {
            try
            {
                return (await DockerConnection.ConnectOtherAsync(new Uri(k), this, _certPath, ct).ConfigureAwait(false), (string?)null);
            }
            catch (K3dEtcdException ex) when (ex.ErrorId == ErrorCatalog.DockerUnreachable.Id)
            {
                return (null, ex.InnerException?.GetBaseException().Message is { Length: > 0 } m && !m.Contains("canceled", StringComparison.OrdinalIgnoreCase) ? m : $"no answer within {DockerClientFactory.PingTimeout.TotalSeconds:0} s");
            }
        });
    }

    /// <summary>Remembers that a container or volume (by id or name) lives on <paramref name="connection"/>.</summary>
    internal void Route(string idOrName, DockerConnection connection)
    {
        if (connection != Session) _routes[idOrName] = connection;
    }

    /// <summary>The client of the engine that holds the container or volume; null for the session's engine.</summary>
    internal IDockerClient? ClientFor(string idOrName) => _routes.TryGetValue(idOrName, out var c) ? c.Client : null;

    public void Dispose()
    {
        foreach (var task in _engines.Values)
        {
            if (task.IsCompletedSuccessfully && task.Result.Connection is { } c) c.Dispose();
        }
        _engines.Clear();
    }
}
