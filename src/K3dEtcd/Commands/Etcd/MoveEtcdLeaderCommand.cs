using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Moves an etcd cluster's leadership to a named member.</para>
/// <para type="description">Sends etcd's MoveLeader to the current leader and waits until the target reports itself as the healthy leader; the result is the new leader's member status. An unknown member is EtcdMemberNotFound; a stopped or unhealthy one MoveLeaderTargetUnavailable. Moving to the member that already leads does nothing.</para>
/// </summary>
/// <example>
/// <code>Move-EtcdLeader -Cluster etcd -To etcd2</code>
/// <para>Makes etcd2 the leader, for example before stopping the current leader's host.</para>
/// </example>
/// <example>
/// <code>$next = Get-EtcdMember -Cluster etcd | Where-Object { -not $_.IsLeader } | Select-Object -First 1; Move-EtcdLeader -Cluster etcd -To $next.Name -Confirm:$false</code>
/// <para>Hands the leadership to any follower without asking, for a drill before Stop-EtcdMember on the old leader.</para>
/// </example>
[Cmdlet(VerbsCommon.Move, "EtcdLeader", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdMemberStatus))]
public sealed class MoveEtcdLeaderCommand : EtcdMaintenanceCmdlet
{
    /// <summary>The member to lead: its name (etcd2) or hex ID.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string To { get; set; } = "";

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMaintenanceAsync(ct);
        if (!ShouldProcess(TargetDescription, $"Move the leadership to {To}")) return;
        WriteObject(await service.MoveLeaderAsync(To, TimeSpan.FromSeconds(Math.Max(10, TimeoutSeconds)), ct));
    }
}
