using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

// Removal: of a whole cluster by its label (Remove-EtcdCluster), and of exactly what a failed
// create or add created (roll-back).
public sealed partial class EtcdClusterService
{
    /// <summary>Removes exactly what carries the cluster's label; returns what was removed.</summary>
    public async Task<RemovedResources> RemoveAsync(string name, bool keepData, CancellationToken ct)
    {
        var removed = new RemovedResources();
        var local = await docker.ListContainersAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false);
        var (all, _) = await AcrossEnginesAsync(local, name, ct).ConfigureAwait(false);
        var (others, unreachable) = await EngineServicesAsync(all, ct).ConfigureAwait(false);
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

    /// <summary>Removes what carries the cluster's label on this service's engine.</summary>
    private async Task RemoveHereAsync(string name, bool keepData, RemovedResources removed, CancellationToken ct)
    {
        var filter = Labels.ClusterFilter(name);
        var containers = await docker.ListContainersAsync(filter, ct).ConfigureAwait(false);
        foreach (var c in containers)
        {
            log.Verbose($"docker rm -f {c.Names.FirstOrDefault()?.TrimStart('/')}");
            await docker.RemoveContainerAsync(c.ID, ct).ConfigureAwait(false);
            removed.Containers.Add(c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID);
        }
        if (!keepData)
        {
            foreach (var v in await docker.ListVolumesAsync(filter, ct).ConfigureAwait(false))
            {
                log.Verbose($"docker volume rm {v.Name}");
                await docker.RemoveVolumeAsync(v.Name, ct).ConfigureAwait(false);
                removed.Volumes.Add(v.Name);
            }
        }
        var tlsDirectories = containers.Select(c => ClusterModel.Label(c.Labels, Labels.TlsDir)).OfType<string>().Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        foreach (var directory in keepData ? [] : tlsDirectories)
        {
            if (ClusterTlsStore.Delete(directory, name, log)) removed.TlsDirectory = directory;
        }
        var networks = await docker.ListNetworksAsync(filter, ct).ConfigureAwait(false);
        foreach (var n in networks)
        {
            log.Verbose($"docker network rm {n.Name}");
            try
            {
                await docker.DeleteNetworkAsync(n.ID, ct).ConfigureAwait(false);
                removed.Networks.Add(n.Name);
            }
            catch (DockerApiException ex) when (DockerAdapter.IsNetworkInUse(ex))
            {
                throw new K3dEtcdException(ErrorCatalog.NetworkInUse,
                    $"Network {n.Name} of cluster '{name}' still has other containers attached (a k3d cluster?); its etcd members were removed, the network was kept. {DockerAdapter.DockerMessage(ex)}", n.Name, ex);
            }
        }
    }

    internal async Task RollbackAsync(CreatedResources created)
    {
        // Roll-back must finish even when the user pressed Ctrl+C: never pass the cancelled token.
        foreach (var id in Enumerable.Reverse(created.Containers))
        {
            try { await docker.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove container {id}: {DockerAdapter.DockerMessage(ex)}"); }
        }
        foreach (var volume in created.Volumes)
        {
            try { await docker.RemoveVolumeAsync(volume, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove volume {volume}: {DockerAdapter.DockerMessage(ex)}"); }
        }
        if (created.Network is not null)
        {
            try { await docker.DeleteNetworkAsync(created.Network, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove network {created.Network}: {DockerAdapter.DockerMessage(ex)}"); }
        }
        if (created.MemberTlsDirectory is not null && Directory.Exists(created.MemberTlsDirectory))
        {
            try { Directory.Delete(created.MemberTlsDirectory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Roll-back could not delete {created.MemberTlsDirectory}: {ex.Message}"); }
        }
        if (created.TlsDirectory is not null && Directory.Exists(created.TlsDirectory))
        {
            try { Directory.Delete(created.TlsDirectory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Roll-back could not delete the TLS directory {created.TlsDirectory}: {ex.Message}"); }
        }
    }
}
