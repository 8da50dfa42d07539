namespace K3dEtcd.Browser;

/// <summary>
/// The browsers running in this process, each tagged with its owner (the PowerShell runspace that
/// started it, as an opaque object), so Get-EtcdBrowser shows a session only its own browsers and
/// closing a runspace or removing the module stops exactly those.
/// </summary>
public static class EtcdBrowserRegistry
{
    private static readonly object Gate = new();
    private static readonly List<(EtcdBrowserServer Server, object Owner)> Servers = [];

    public static void Add(EtcdBrowserServer server, object owner)
    {
        lock (Gate) Servers.Add((server, owner));
    }

    public static IReadOnlyList<EtcdBrowserServer> List(object owner)
    {
        lock (Gate) return Servers.Where(s => ReferenceEquals(s.Owner, owner)).Select(s => s.Server).ToList();
    }

    /// <summary>Stops one browser and forgets it; false when it is not (or no longer) registered.</summary>
    public static async Task<bool> StopAsync(EtcdBrowserServer server)
    {
        bool found;
        lock (Gate) found = Servers.RemoveAll(s => ReferenceEquals(s.Server, server)) > 0;
        await server.DisposeAsync().ConfigureAwait(false);
        return found;
    }

    /// <summary>Stops every browser of <paramref name="owner"/> (module removed, runspace closed).</summary>
    public static void StopAll(object owner)
    {
        List<EtcdBrowserServer> mine;
        lock (Gate)
        {
            mine = Servers.Where(s => ReferenceEquals(s.Owner, owner)).Select(s => s.Server).ToList();
            Servers.RemoveAll(s => ReferenceEquals(s.Owner, owner));
        }
        foreach (var s in mine)
        {
            try { s.Stop(); } catch (Exception) { } // best effort while the session goes away
        }
    }
}
