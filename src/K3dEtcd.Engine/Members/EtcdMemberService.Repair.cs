using Etcdserverpb;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Members;

// Repair-EtcdMember: a member whose container or volume is gone, or whose data is corrupt, comes
// back with the same name, peer and client URLs and host port on a fresh volume, so the endpoint
// list the k3s servers hold stays right.
public sealed partial class EtcdMemberService
{
    /// <summary>
    /// Removes the member from etcd's membership (while the others keep a quorum), removes its
    /// container, then adds it again through the Add-EtcdMember path at its own index and host port
    /// on a fresh volume (as a learner where etcd has learners, promoted once caught up). Its old
    /// volume is removed once it has joined; its certificates are kept.
    /// </summary>
    public async Task<EtcdClusterMember> RepairMemberAsync(string clusterName, string memberName, CancellationToken ct)
    {
        var cluster = await GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        if (cluster.Engines.Length > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement,
                $"Cluster '{cluster.Name}' runs on several Docker engines; Repair-EtcdMember repairs members on the session's engine only. Remove-EtcdMember and Add-EtcdMember replace a member there.", cluster.Name);
        }
        var containers = await _docker.ListContainersAsync(Labels.ClusterFilter(cluster.Name), ct).ConfigureAwait(false);
        var record = ClusterRecord.Newest(containers.Select(c => (IReadOnlyDictionary<string, string>?)c.Labels));
        var existing = cluster.Members.FirstOrDefault(m => string.Equals(m.Name, memberName, StringComparison.OrdinalIgnoreCase) || string.Equals(m.Id, memberName, StringComparison.OrdinalIgnoreCase));
        var recorded = record?.Members.FirstOrDefault(m => string.Equals(m.Name, memberName, StringComparison.OrdinalIgnoreCase));
        var container = existing?.ContainerName ?? recorded?.Name
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound,
                $"Cluster '{cluster.Name}' has no member named '{memberName}', and its record names none: its members are {string.Join(", ", (record?.Members.Select(m => m.Name) ?? cluster.Members.Select(m => m.Name)).Distinct())}.", memberName);
        var index = MemberIndex(cluster.Name, container);
        var activity = $"Repairing etcd member {container} of '{cluster.Name}'";

        var others = cluster.Members.Where(m => m.Name != container).ToList();
        if (others.Where(m => m.State != Running).Select(m => m.Name).ToList() is { Count: > 0 } stopped)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterDegraded,
                $"Member{(stopped.Count == 1 ? "" : "s")} {string.Join(", ", stopped)} of '{cluster.Name}' {(stopped.Count == 1 ? "is" : "are")} not running; etcd refuses membership changes until the others are connected. Nothing was changed; start {(stopped.Count == 1 ? "it" : "them")} (Start-EtcdMember) first.", cluster.Name);
        }
        // The membership still counts the lost member: the others must be a quorum of all of them.
        var size = Math.Max(cluster.Members.Length + (existing is null ? 1 : 0), record?.Members.Count ?? 0);
        var running = others.Count(m => m.State == Running);
        EtcdClusterMember leader;
        try
        {
            if (running < Quorum(size))
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader, $"{running} of {size} members of '{cluster.Name}' run besides {container}; {Quorum(size)} are needed for a quorum.", cluster.Name);
            }
            leader = await FindLeaderAsync(cluster, ct).ConfigureAwait(false);
        }
        catch (K3dEtcdException ex) when (ex.ErrorId == ErrorCatalog.EtcdNoLeader.Id || ex.ErrorId == ErrorCatalog.EtcdClusterStopped.Id)
        {
            throw new K3dEtcdException(ErrorCatalog.RepairNeedsQuorum,
                $"The members of '{cluster.Name}' other than {container} have no quorum ({ex.Message}), so {container} cannot be removed and added again; nothing was changed. " +
                $"Rebuild the cluster in place from a snapshot (Restore-EtcdSnapshot PATH -Cluster {cluster.Name} -Replace) or from a survivor's data (Repair-EtcdCluster -Cluster {cluster.Name} -FromMember NAME).", cluster.Name, ex);
        }
        if (leader.Name == container)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterDegraded,
                $"{container} is the leader of '{cluster.Name}' and serves; move the leadership first (Move-EtcdLeader -Cluster {cluster.Name}) if it is to be rebuilt. Nothing was changed.", container);
        }

        // Its own port, for certain, from its container; else the record's; else -ClientPort's numbering.
        int? port = null;
        if (existing is not null)
        {
            var spec = (await _docker.InspectContainerAsync(existing.ContainerId, ct).ConfigureAwait(false)).Spec;
            if (spec.PublishedPorts.FirstOrDefault(p => p.ContainerPort == 2379) is { } published && int.TryParse(published.HostPort, out var p) && p > 0) port = p;
        }
        port ??= recorded?.HostPort ?? (record?.ClientPort is { } first ? first + index : null);
        if (port is null) _log.Warning($"The host port of {container} is not known (its container is gone and no record names it); it gets a free one.");

        var tls = cluster.Tls is not null;
        var peerUrl = EtcdClusterSpec.PeerUrl(container, tls);
        using (var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(10)), _log))
        {
            _log.Progress(new OperationProgress(activity, "member remove", 10));
            var list = await connection.CallAsync("member list", x => connection.Grpc.ClusterClient.MemberListAsync(new MemberListRequest(), x), ct, null, null, mapDeadline: true).ConfigureAwait(false);
            if (list.Members.FirstOrDefault(m => m.Name == container || m.PeerURLs.Contains(peerUrl)) is { } known)
            {
                _log.Verbose($"etcd: member remove {EtcdMemberIdentity.ToHex(known.ID)} ({container})");
                await ReconfigureAsync(connection, "member remove", x => connection.Grpc.ClusterClient.MemberRemoveAsync(new MemberRemoveRequest { ID = known.ID }, x), container, activity, ct).ConfigureAwait(false);
            }
            else
            {
                _log.Verbose($"etcd no longer lists {container}.");
            }
        }
        if (existing is not null)
        {
            _log.Verbose($"docker rm -f {container} (its volume {existing.Volume} stays until the member has joined again)");
            await _docker.RemoveContainerAsync(existing.ContainerId, ct).ConfigureAwait(false);
        }

        var suffix = "-r" + DateTime.UtcNow.ToString("yyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var added = await AddMemberAsync(cluster.Name, new MemberSlot(index, port, suffix), ct).ConfigureAwait(false);

        await MemberContainers.RemoveOldVolumesAsync(_docker, cluster.Name, container, added.Volume, _log).ConfigureAwait(false);
        _log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        return added;
    }
}
