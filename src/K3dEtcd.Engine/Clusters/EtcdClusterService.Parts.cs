using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

// A cluster found by any part of it that is left: its members' containers, its volumes, its network
// (labels) and its TLS directory (a label of any of those, or the default place).
public sealed partial class EtcdClusterService
{
    /// <summary>The parts of the named cluster, or of every cluster when <paramref name="name"/> is null, on the session's engine and this machine.</summary>
    public async Task<IReadOnlyList<ClusterParts>> FindPartsAsync(string? name, CancellationToken ct)
    {
        var filter = Labels.ClusterFilter(name);
        var found = new SortedDictionary<string, ClusterParts>(StringComparer.Ordinal);
        var tlsLabels = new Dictionary<string, List<string?>>(StringComparer.Ordinal);
        ClusterParts Of(string cluster, string? tlsDir)
        {
            if (!tlsLabels.TryGetValue(cluster, out var dirs)) tlsLabels[cluster] = dirs = [];
            dirs.Add(tlsDir);
            return found.TryGetValue(cluster, out var parts) ? parts : found[cluster] = new ClusterParts(cluster);
        }
        foreach (var c in await docker.ListContainersAsync(filter, ct).ConfigureAwait(false))
        {
            if (c.Label(Labels.Cluster) is { } cluster && c.Labels.ContainsKey(Labels.Member)) Of(cluster, c.Label(Labels.TlsDir)).Containers.Add(c.Name);
        }
        foreach (var v in await docker.ListVolumesAsync(filter, ct).ConfigureAwait(false))
        {
            if (ClusterModel.Label(v.Labels, Labels.Cluster) is { } cluster) Of(cluster, ClusterModel.Label(v.Labels, Labels.TlsDir)).Volumes.Add(v.Name);
        }
        foreach (var n in await docker.ListNetworksAsync(filter, ct).ConfigureAwait(false))
        {
            if (ClusterModel.Label(n.Labels, Labels.Cluster) is { } cluster) Of(cluster, ClusterModel.Label(n.Labels, Labels.TlsDir)).Networks.Add(n.Name);
        }
        var names = name is null ? found.Keys.Concat(ClusterParts.NamesWithTlsDirectory()).Distinct(StringComparer.Ordinal).ToList() : [name];
        foreach (var cluster in names)
        {
            var labelled = tlsLabels.TryGetValue(cluster, out var dirs) ? dirs : [];
            if (ClusterParts.FindTlsDirectory(cluster, labelled) is { } dir) Of(cluster, null).TlsDirectory = dir;
        }
        return found.Values.Where(p => p.Any).ToList();
    }

    /// <summary>A cluster none of whose member containers is left, shown by what is.</summary>
    internal static EtcdCluster Broken(ClusterParts parts)
    {
        EtcdTlsInfo? tls = null;
        if (parts.TlsDirectory is { } dir && File.Exists(Path.Combine(dir, ClusterTlsStore.CaFileName)))
        {
            try { tls = ClusterTlsStore.Read(dir); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException) { }
        }
        var left = parts.Describe();
        return new EtcdCluster
        {
            Name = parts.Name,
            State = EtcdClusterState.Broken,
            StateReason = $"no member container is left; what remains: {string.Join("; ", left)}",
            Leftovers = [.. left],
            Network = parts.Networks.FirstOrDefault() ?? "",
            Tls = tls,
        };
    }

    /// <summary>EtcdClusterNotFound, saying what is left of the cluster when something is.</summary>
    internal async Task<K3dEtcdException> NotFoundAsync(string name, CancellationToken ct)
    {
        var parts = (await FindPartsAsync(name, ct).ConfigureAwait(false)).FirstOrDefault();
        if (parts is null) return NotFound(name);
        return new K3dEtcdException(ErrorCatalog.EtcdClusterNotFound,
            $"No member container of etcd cluster '{name}' is left; what remains: {string.Join("; ", parts.Describe())}. {LeftoverRemedy(name)}", name);
    }

    private static string LeftoverRemedy(string name) =>
        $"Remove-EtcdCluster {name} removes what is left (-KeepData keeps the volumes and the TLS directory).";

    /// <summary>
    /// A create under a name whose leftovers exist is refused, naming them and the command that
    /// clears them; nothing is reused or removed silently. The ErrorId is the one the first
    /// leftover always had (a volume, then the network, then the TLS directory).
    /// </summary>
    private async Task EnsureNoLeftoversAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        var parts = (await FindPartsAsync(spec.Name, ct).ConfigureAwait(false)).FirstOrDefault();
        if (parts is null || parts.Containers.Count > 0) return;
        var (id, target) = parts switch
        {
            { Volumes.Count: > 0 } => (ErrorCatalog.VolumeNameInUse, parts.Volumes[0]),
            { Networks.Count: > 0 } => (ErrorCatalog.NetworkNameInUse, parts.Networks[0]),
            _ => (ErrorCatalog.TlsDirectoryExists, parts.TlsDirectory!),
        };
        throw new K3dEtcdException(id,
            $"An earlier etcd cluster named '{spec.Name}' left {string.Join("; ", parts.Describe())} (removed with -KeepData, a create that was killed, or members removed outside K3dEtcd). Nothing reuses them silently: {LeftoverRemedy(spec.Name)} Or choose another name.", target);
    }
}
