using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Members;

// Repair-EtcdCluster -FromMember: after a lost quorum with no usable snapshot, the cluster again
// from one survivor's data, with the same names, URLs, host ports and certificates.
public sealed partial class EtcdMemberService
{
    /// <summary>
    /// Restarts <paramref name="survivorName"/> once with --force-new-cluster (a one-member
    /// cluster of its data, same member ID), then as usual, and adds every other member of the
    /// cluster's record again through the Add-EtcdMember path at its own index and host port on a
    /// fresh volume. Writes the survivor had not received are gone. Refused while a quorum is up.
    /// A failure before the survivor runs alone puts the removed containers back.
    /// </summary>
    public async Task<EtcdCluster> RebuildFromMemberAsync(string clusterName, string survivorName, CancellationToken ct)
    {
        var cluster = await GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        if (cluster.Engines.Length > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement,
                $"Cluster '{cluster.Name}' runs on several Docker engines; Repair-EtcdCluster rebuilds clusters on the session's engine only.", cluster.Name);
        }
        var survivor = ResolveMember(cluster, survivorName);
        var containers = await _docker.ListContainersAsync(Labels.ClusterFilter(cluster.Name), ct).ConfigureAwait(false);
        var record = ClusterRecord.Newest(containers.Select(c => (IReadOnlyDictionary<string, string>?)c.Labels));
        var members = (record?.Members ?? []).Select(m => (m.Name, m.Index, m.HostPort))
            .Concat(cluster.Members.Select(m => (Name: m.ContainerName, Index: MemberIndex(cluster.Name, m.ContainerName), HostPort: m.ClientUrl is { } u ? new Uri(u).Port : (int?)null)))
            .GroupBy(m => m.Name).Select(g => g.OrderByDescending(m => m.HostPort.HasValue).First()).OrderBy(m => m.Index).ToList();
        var running = cluster.Members.Count(m => m.State == Running);
        if (running >= Quorum(members.Count))
        {
            throw new K3dEtcdException(ErrorCatalog.RepairClusterHasQuorum,
                $"{running} of {members.Count} members of '{cluster.Name}' run, a quorum: the cluster is not rebuilt from one member, which would drop what the others hold. Nothing was changed; Repair-EtcdMember -Cluster {cluster.Name} -Name NAME replaces a lost member.", cluster.Name);
        }
        var activity = $"Rebuilding etcd cluster '{cluster.Name}' from {survivor.Name}";
        _log.Warning($"'{cluster.Name}' is rebuilt from {survivor.Name}'s data: writes {survivor.Name} had not received when the quorum was lost are gone.");

        // The others stop serving a cluster that no longer counts them; their volumes stay until the rebuild is done.
        var removed = new List<(ContainerSpec Spec, bool Running)>();
        var plan = MemberPlan.Of(cluster, survivor, MemberIndex(cluster.Name, survivor.Name));
        try
        {
            foreach (var other in cluster.Members.Where(m => m.Name != survivor.Name))
            {
                var spec = (await _docker.InspectContainerAsync(other.ContainerId, ct).ConfigureAwait(false)).Spec;
                _log.Verbose($"docker rm -f {other.ContainerName} (its volume {other.Volume} stays until the rebuild is done)");
                await _docker.RemoveContainerAsync(other.ContainerId, ct).ConfigureAwait(false);
                removed.Add((spec, other.State == Running));
            }
            _log.Progress(new OperationProgress(activity, $"Starting {survivor.Name} alone ({MemberContainers.ForceNewCluster})", 10));
            await _clusters.Members().RecreateAsync(plan, survivor.ContainerId, null, ct, extraArguments: [MemberContainers.ForceNewCluster]).ConfigureAwait(false);
            var alone = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
            await FindLeaderAsync(alone, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or DockerOperationException or OperationCanceledException)
        {
            await MemberContainers.PutBackAsync(_docker, removed, _log).ConfigureAwait(false);
            throw;
        }

        // Once more without the flag, which must never stay: at its next start it would drop the members added below.
        _log.Progress(new OperationProgress(activity, $"Restarting {survivor.Name} as usual", 30));
        var now = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var again = ResolveMember(now, survivor.Name);
        await _clusters.Members().RecreateAsync(MemberPlan.Of(now, again, plan.Index), again.ContainerId, null, ct).ConfigureAwait(false);
        await FindLeaderAsync(await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false), ct).ConfigureAwait(false);

        var suffix = "-r" + DateTime.UtcNow.ToString("yyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var others = members.Where(m => m.Name != survivor.ContainerName).ToList();
        foreach (var (m, n) in others.Select((m, n) => (m, n)))
        {
            _log.Progress(new OperationProgress(activity, $"Adding {m.Name} again ({n + 1}/{others.Count})", 40 + 55 * n / Math.Max(1, others.Count)));
            try
            {
                await AddMemberAsync(cluster.Name, new MemberSlot(m.Index, m.HostPort, suffix), ct).ConfigureAwait(false);
            }
            catch (K3dEtcdException ex)
            {
                throw new K3dEtcdException(ex, $"{ex.Message}{Environment.NewLine}'{cluster.Name}' runs from {survivor.Name}'s data with the members added so far; add the rest with Repair-EtcdMember -Cluster {cluster.Name} -Name {m.Name}.");
            }
            await MemberContainers.RemoveOldVolumesAsync(_docker, cluster.Name, m.Name, EtcdClusterSpec.VolumeName(cluster.Name, m.Index) + suffix, _log).ConfigureAwait(false);
        }
        _log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        return await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
    }
}
