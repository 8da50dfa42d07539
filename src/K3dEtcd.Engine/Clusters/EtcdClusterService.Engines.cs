using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Clusters;

// Clusters whose members live on several Docker engines (New-EtcdCluster -DockerHost a, b, c):
// placing added members, and reading a cluster back from any one engine. (They are created
// through the same path as every cluster: CreateAsync and MemberContainers.)
public sealed partial class EtcdClusterService
{
    /// <summary>
    /// Where Add-EtcdMember puts member <paramref name="index"/> of a multi-engine cluster: on the next
    /// engine round-robin, at the address its members there use, on the next free port pair of that address.
    /// </summary>
    internal static MemberPlacement PlaceAddedMember(EtcdCluster cluster, int index)
    {
        var engine = cluster.Engines[index % cluster.Engines.Length];
        var address = cluster.Members.FirstOrDefault(m => m.Engine == engine && m.HostAddress is not null)?.HostAddress
            ?? EnginePlacement.AddressOf(new Uri(engine))
            ?? throw new K3dEtcdException(ErrorCatalog.EngineAddressRequired,
                $"Cluster '{cluster.Name}' has no member left on {engine} to show that engine's address, and its URL has none; the new member cannot be placed there.", engine);
        var used = cluster.Members.Where(m => m.HostAddress == address)
            .SelectMany(m => new[] { m.NetworkClientUrl, m.PeerUrl }).Select(u => new Uri(u).Port).DefaultIfEmpty(EnginePlacement.DefaultClientPort - 1).Max();
        return new MemberPlacement(index, EtcdClusterSpec.ContainerName(cluster.Name, index), engine, address, used + 1, used + 2);
    }

    /// <summary>
    /// The containers of the clusters found on the session's engine (and the engines listed with
    /// Set-K3dEtcdOption), completed with their members on the other engines their labels name.
    /// An engine that does not answer is returned with its reason, so its members are shown as
    /// unreachable rather than dropped. A member names its engine in its labels (Labels.Engine).
    /// </summary>
    private async Task<(List<ContainerInfo> Containers, IReadOnlyDictionary<string, string> Unreachable)> AcrossEnginesAsync(
        IReadOnlyList<ContainerInfo> local, string? cluster, CancellationToken ct, IEnumerable<string>? alsoEngines = null)
    {
        var unreachable = new Dictionary<string, string>(StringComparer.Ordinal);
        var all = new List<ContainerInfo>(local);
        if (docker.Engines is not { } engines) return (all, unreachable);

        var visited = new HashSet<string>(StringComparer.Ordinal) { engines.SessionKey };
        var pending = new Queue<string>(engines.AdditionalHosts.Concat(alsoEngines ?? []).Distinct(StringComparer.Ordinal));
        void Follow(IEnumerable<ContainerInfo> containers)
        {
            foreach (var e in containers.SelectMany(c => (c.Label(Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)))
            {
                if (!visited.Contains(e) && !pending.Contains(e)) pending.Enqueue(e);
            }
        }
        Follow(local);
        while (pending.TryDequeue(out var engine))
        {
            if (!visited.Add(engine)) continue;
            var (connection, reason) = await engines.TryConnectAsync(engine, ct).ConfigureAwait(false);
            if (connection is null)
            {
                unreachable[engine] = reason!;
                log.Verbose($"Docker engine {engine} does not answer: {reason}");
                continue;
            }
            var found = await new DockerAdapter(connection, log).ListContainersAsync(Labels.ClusterFilter(cluster), ct).ConfigureAwait(false);
            all.AddRange(found);
            Follow(found);
        }
        return (all, unreachable);
    }

    /// <summary>A multi-engine cluster read from the engines it was just created on (the session's engine may hold none of its members).</summary>
    private async Task<EtcdCluster?> GetOnEnginesAsync(string name, IEnumerable<string> engineKeys, CancellationToken ct)
    {
        var local = await docker.ListContainersAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false);
        var (all, unreachable) = await AcrossEnginesAsync(local, name, ct, engineKeys).ConfigureAwait(false);
        var members = all.Where(c => c.Labels.ContainsKey(Labels.Member)).ToList();
        return members.Count == 0 ? null : ClusterModel.ToCluster(name, members, unreachable);
    }

    /// <summary>The services of every engine a multi-engine cluster's labels name (for removal), and those that do not answer.</summary>
    private async Task<(List<EtcdClusterService> Services, Dictionary<string, string> Unreachable)> EngineServicesAsync(IEnumerable<ContainerInfo> containers, CancellationToken ct)
    {
        var services = new List<EtcdClusterService>();
        var unreachable = new Dictionary<string, string>(StringComparer.Ordinal);
        if (docker.Engines is not { } engines) return (services, unreachable);
        var keys = containers.SelectMany(c => (c.Label(Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Where(e => e != engines.SessionKey).Distinct(StringComparer.Ordinal);
        foreach (var engine in keys)
        {
            var (connection, reason) = await engines.TryConnectAsync(engine, ct).ConfigureAwait(false);
            if (connection is null) unreachable[engine] = reason!;
            else services.Add(new EtcdClusterService(new DockerAdapter(connection, log), log));
        }
        return (services, unreachable);
    }
}
