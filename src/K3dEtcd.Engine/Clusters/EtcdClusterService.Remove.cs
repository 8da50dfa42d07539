using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

// Removal of a whole cluster by its label (Remove-EtcdCluster); the roll-back of exactly what a
// failed create or add created is MemberContainers.RollbackAsync.
public sealed partial class EtcdClusterService
{
    /// <summary>Removes exactly what carries the cluster's label, and its TLS directory; returns what was removed.</summary>
    public async Task<RemovedResources> RemoveAsync(string name, bool keepData, CancellationToken ct)
    {
        var removed = new RemovedResources();
        var local = await docker.ListContainersAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false);
        var (all, _) = await AcrossEnginesAsync(local, name, ct, local.Count > 0 ? [] : await EnginesNamedHereAsync(name, ct).ConfigureAwait(false)).ConfigureAwait(false);
        var (others, unreachable) = await EngineServicesAsync(all, ct).ConfigureAwait(false);
        // Before anything is removed: a k3d cluster whose servers use this datastore keeps it.
        foreach (var service in others.Prepend(this)) await service.EnsureNotInUseAsync(name, ct).ConfigureAwait(false);
        // A cluster on several engines is removed from each; an engine that does not answer keeps its part, and says so.
        foreach (var service in others.Prepend(this)) await service.RemoveHereAsync(name, keepData, removed, ct).ConfigureAwait(false);
        if (unreachable.Count > 0)
        {
            var (engine, reason) = unreachable.First();
            throw new K3dEtcdException(ErrorCatalog.DockerEngineUnreachable,
                $"Cluster '{name}' was removed from every engine that answers, but {engine} does not ({reason}): its members there remain; run Remove-EtcdCluster {name} again when it answers.", engine);
        }
        return removed;
    }

    /// <summary>
    /// Refuses (DatastoreInUse) while containers on this engine carry io.k3detcd.etcd-cluster=NAME,
    /// as New-K3dCluster labels the k3s servers it makes on this datastore, stopped ones included.
    /// </summary>
    public async Task EnsureNotInUseAsync(string name, CancellationToken ct)
    {
        var users = (await docker.ListContainersAsync(Labels.UsedByFilter(name), ct).ConfigureAwait(false))
            .Where(c => c.Label(Labels.Cluster) is null).ToList();
        if (users.Count == 0) return;
        var k3d = users.Select(c => c.Label(Labels.K3dCluster)).OfType<string>().Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var containers = string.Join(", ", users.Select(c => c.Name).Order(StringComparer.Ordinal));
        var message = k3d.Count > 0
            ? $"Etcd cluster '{name}' is the datastore of k3d cluster{(k3d.Count == 1 ? "" : "s")} {string.Join(", ", k3d.Select(n => $"'{n}'"))} (containers {containers}); nothing was removed. " +
              (k3d.Count == 1
                  ? $"Remove the k3d cluster first (Remove-K3dCluster {k3d[0]}), or both at once with Remove-K3dCluster {k3d[0]} -IncludeDatastore."
                  : $"Remove those k3d clusters first (Remove-K3dCluster {string.Join(", ", k3d)}); then Remove-EtcdCluster {name}.")
            : $"Containers {containers} carry the label {Labels.UsedBy}={name}: they use etcd cluster '{name}' as their datastore; nothing was removed. Remove them first (docker rm -f), then Remove-EtcdCluster {name}.";
        throw new K3dEtcdException(ErrorCatalog.DatastoreInUse, message, k3d.Count > 0 ? k3d[0] : name);
    }

    /// <summary>Removes what carries the cluster's label on this service's engine.</summary>
    private async Task RemoveHereAsync(string name, bool keepData, RemovedResources removed, CancellationToken ct)
    {
        var filter = Labels.ClusterFilter(name);
        var containers = await docker.ListContainersAsync(filter, ct).ConfigureAwait(false);
        foreach (var c in containers)
        {
            log.Verbose($"docker rm -f {c.Name}");
            await docker.RemoveContainerAsync(c.Id, ct).ConfigureAwait(false);
            removed.Containers.Add(c.Name.Length > 0 ? c.Name : c.Id);
        }
        var volumes = await docker.ListVolumesAsync(filter, ct).ConfigureAwait(false);
        var networks = await docker.ListNetworksAsync(filter, ct).ConfigureAwait(false);
        if (!keepData)
        {
            foreach (var v in volumes)
            {
                log.Verbose($"docker volume rm {v.Name}");
                await docker.RemoveVolumeAsync(v.Name, ct).ConfigureAwait(false);
                removed.Volumes.Add(v.Name);
            }
        }
        // The TLS directory is found as Get-EtcdCluster finds it, so one left by a create that was killed, or
        // by members removed outside the module, goes too; one a label names that is not shaped like ours is kept.
        var tlsDirectories = containers.Select(c => c.Label(Labels.TlsDir))
            .Concat(volumes.Select(v => ClusterModel.Label(v.Labels, Labels.TlsDir)))
            .Concat(networks.Select(n => ClusterModel.Label(n.Labels, Labels.TlsDir)))
            .OfType<string>().Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (ClusterParts.FindTlsDirectory(name, tlsDirectories) is { } found && !tlsDirectories.Contains(found)) tlsDirectories.Add(found);
        foreach (var directory in keepData ? [] : tlsDirectories)
        {
            if (ClusterTlsStore.Delete(directory, name, log)) removed.TlsDirectory = directory;
        }
        // A plain cluster's k3s tokens (New-K3dCluster keeps them where a TLS directory would be): data, like the volumes.
        if (!keepData)
        {
            foreach (var file in K3sTokenStore.RemovePlainStore(name, log)) log.Verbose($"Removed the kept k3s token {file}");
        }
        foreach (var n in networks)
        {
            log.Verbose($"docker network rm {n.Name}");
            try
            {
                await docker.DeleteNetworkAsync(n.Id, ct).ConfigureAwait(false);
                removed.Networks.Add(n.Name);
            }
            catch (DockerOperationException ex) when (ex.IsNetworkInUse)
            {
                throw new K3dEtcdException(ErrorCatalog.NetworkInUse,
                    $"Network {n.Name} of cluster '{name}' still has other containers attached (a k3d cluster?); its etcd members were removed, the network was kept. {ex.DockerMessage}", n.Name, ex);
            }
        }
    }
}
