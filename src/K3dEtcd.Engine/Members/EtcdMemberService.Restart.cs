using System.Runtime.CompilerServices;
using K3dEtcd.Model;

namespace K3dEtcd.Members;

// Restart-EtcdMember: one at a time (rolling, the quorum kept throughout) or all together.
public sealed partial class EtcdMemberService
{
    /// <summary>
    /// Restarts members and yields each as it is back (healthy and caught up when a quorum runs).
    /// <paramref name="rolling"/>: one member at a time, each step checked against the cluster as it is
    /// then (QuorumLoss unless <paramref name="force"/>), stopped, started and waited for before the next.
    /// Otherwise the members stop together and start together, refused up front when that would lose
    /// the quorum (unless <paramref name="force"/>). <paramref name="confirm"/> is asked per member
    /// (after the quorum check, before anything changes); a member it declines is left alone.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<EtcdClusterMember>> RestartMembersAsync(EtcdCluster cluster, IReadOnlyList<EtcdClusterMember> members,
        bool rolling, bool kill, bool force, Func<EtcdClusterMember, Task<bool>>? confirm, [EnumeratorCancellation] CancellationToken ct)
    {
        confirm ??= _ => Task.FromResult(true);
        if (rolling)
        {
            foreach (var member in members)
            {
                // Each step is checked against the cluster as it is now, not as it was.
                var now = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
                if (!force) EnsureQuorumKept(now, [ResolveMember(now, member.Name)], "Restarting");
                if (!await confirm(member).ConfigureAwait(false)) continue;
                await StopMemberAsync(now, member, kill, ct).ConfigureAwait(false);
                yield return await StartMembersAsync(now, [member], ct).ConfigureAwait(false);
            }
            yield break;
        }
        if (!force) EnsureQuorumKept(cluster, members, members.Count > 1 ? "Restarting together (use -Rolling to keep the quorum)" : "Restarting");
        var chosen = new List<EtcdClusterMember>();
        foreach (var member in members)
        {
            if (await confirm(member).ConfigureAwait(false)) chosen.Add(member);
        }
        if (chosen.Count == 0) yield break;
        foreach (var member in chosen) await StopMemberAsync(cluster, member, kill, ct).ConfigureAwait(false);
        yield return await StartMembersAsync(cluster, chosen, ct).ConfigureAwait(false);
    }
}
