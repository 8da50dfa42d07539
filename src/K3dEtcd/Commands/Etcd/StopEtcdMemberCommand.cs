using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Clusters;
using K3dEtcd.Members;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Stops etcd members (by name, the current leader, or all) and waits until they are stopped and the rest has a leader.</para>
/// <para type="description">Stops member containers with SIGTERM (a graceful stop: a leader hands leadership over first) or, with -Kill,
/// SIGKILL (a crash: the others elect a new leader after the election timeout). Waits until each container has stopped and, while a
/// quorum keeps running, until the remaining members report a leader. Refuses to stop members when fewer than a quorum would keep
/// running, unless -Force; nothing is changed then. The data stays in the member's volume: Start-EtcdMember brings it back.</para>
/// </summary>
/// <example>
/// <code>Stop-EtcdMember -Cluster $c -Leader -Kill</code>
/// <para>Kills the current leader, as a crash would, and returns once the other members have elected a new one.</para>
/// </example>
/// <example>
/// <code>$c.Members | Where-Object Name -eq etcd1 | Stop-EtcdMember -PassThru</code>
/// <para>Stops the member etcd1, taken from the cluster object's members, and writes it with its new state.</para>
/// </example>
/// <example>
/// <code>Stop-EtcdMember -Cluster etcd -All -Force</code>
/// <para>Stops every member of the cluster named etcd; -Force because the cluster loses its quorum.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Stop, "EtcdMember", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(EtcdClusterMember))]
public sealed class StopEtcdMemberCommand : EtcdMemberCmdlet
{
    /// <summary>Send SIGKILL (a crash) instead of SIGTERM (a graceful stop).</summary>
    [Parameter]
    public SwitchParameter Kill { get; set; }

    /// <summary>Stop even when the cluster loses its quorum, and do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the stopped members.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMemberServiceAsync(ct);
        try
        {
            foreach (var (cluster, members) in await ResolveTargetsAsync(service, ct))
            {
                if (!Force) EtcdMemberService.EnsureQuorumKept(cluster, members, "Stopping");
                foreach (var member in members)
                {
                    if (!ShouldProcessUnlessForced(Force, $"etcd member {member.Name} of cluster '{cluster.Name}'", Kill ? "Kill (SIGKILL)" : "Stop")) continue;
                    var result = await service.StopMemberAsync(cluster, member, Kill, ct);
                    if (PassThru) WriteObject(result.Member);
                }
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
