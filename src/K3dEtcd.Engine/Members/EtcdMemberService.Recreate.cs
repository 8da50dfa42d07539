using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Members;

// Recreating a member in place: what rolling upgrades (a new image), certificate renewal (new
// files) and repairs need, through the one member path (MemberContainers.RecreateAsync).
public sealed partial class EtcdMemberService
{
    /// <summary>
    /// Recreates a member's container with the same name, volume, ports, network, labels,
    /// certificates and flags, on <paramref name="image"/> (null keeps its image), then waits until
    /// it is healthy and has caught up with the leader. Its data volume is kept; when the new
    /// container cannot be created or started, the member runs again as it was and the error says so.
    /// </summary>
    public async Task<EtcdClusterMember> RecreateMemberAsync(string clusterName, string memberName, string? image, CancellationToken ct)
    {
        var cluster = await GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var member = Reachable(ResolveMember(cluster, memberName));
        var activity = $"Recreating etcd member {member.Name} of '{cluster.Name}'";
        _log.Progress(new OperationProgress(activity, image is null ? "Recreating the container" : $"Recreating the container on {image}", 10));
        var plan = MemberPlan.Of(cluster, member, MemberIndex(cluster.Name, member.Name));
        await _clusters.Members().RecreateAsync(plan, member.ContainerId, image, ct).ConfigureAwait(false);

        var after = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var running = after.Members.Count(m => m.State == Running);
        if (running >= Quorum(after.Size))
        {
            await WaitForCaughtUpAsync(after, ResolveMember(after, member.Name), activity, ct).ConfigureAwait(false);
        }
        else
        {
            _log.Warning($"Only {running} of {after.Size} members of '{cluster.Name}' are running: {member.Name} serves once {Quorum(after.Size)} run.");
        }
        _log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        return ResolveMember(await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false), member.Name);
    }
}
