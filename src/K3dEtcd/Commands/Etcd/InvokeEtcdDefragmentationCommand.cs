using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Defragments etcd members one at a time, returning the free space of their databases to the file system.</para>
/// <para type="description">A member answers nothing while it defragments, so members go one at a time (followers first, the leader last), and before each the others are asked again: a member whose absence would leave fewer healthy voting members than a quorum is refused (DefragmentationWouldBreakQuorum), so the cluster keeps serving reads and writes throughout. On a one-member cluster that is always the case: -Force accepts the pause. Compact first (Invoke-EtcdCompaction) so there is space to return; one object per member shows the database size before and after.</para>
/// </summary>
/// <example>
/// <code>Invoke-EtcdDefragmentation -Cluster etcd</code>
/// <para>Defragments every member, one at a time, and shows DbSizeBefore and DbSizeAfter per member.</para>
/// </example>
/// <example>
/// <code>Invoke-EtcdDefragmentation -Cluster etcd -Member etcd1 -Confirm:$false</code>
/// <para>Defragments only etcd1 without asking.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Invoke, "EtcdDefragmentation", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdDefragmentation))]
public sealed class InvokeEtcdDefragmentationCommand : EtcdMaintenanceCmdlet
{
    /// <summary>Only these members (names or hex IDs); default every member.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Member { get; set; }

    /// <summary>Also defragment a member whose absence breaks quorum (the only way on a one-member cluster); the cluster pauses while it runs. Also skips the prompt.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Seconds each member's defragmentation may take (default 300).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int DefragmentTimeoutSeconds { get; set; } = 300;

    protected override TimeSpan RequestTimeout => TimeSpan.FromSeconds(Math.Max(TimeoutSeconds, MyInvocation.BoundParameters.ContainsKey(nameof(DefragmentTimeoutSeconds)) ? DefragmentTimeoutSeconds : TimeoutSeconds));

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMaintenanceAsync(ct);
        var which = Member is { Length: > 0 } ? string.Join(", ", Member) : "every member, one at a time";
        if (!ShouldProcessUnlessForced(Force, TargetDescription, $"Defragment {which}")) return;
        WriteObject(await service.DefragmentAsync(Member, Force, ct), enumerateCollection: true);
    }
}
