using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Frees an etcd cluster's space and recovers it from NOSPACE: compaction, defragmentation member by member, NOSPACE alarms cleared.</para>
/// <para type="description">When the database reaches its quota, etcd raises the NOSPACE alarm and refuses every write (Set-EtcdKey fails with EtcdNoSpace; k3s stops). This runs the documented way out in order: compact the history (keeping -KeepRevisions), defragment every member one at a time without ever breaking quorum (as Invoke-EtcdDefragmentation), then disarm the NOSPACE alarms so writes succeed again. CORRUPT alarms are reported, never cleared. Also useful as routine maintenance.</para>
/// </summary>
/// <example>
/// <code>Optimize-EtcdCluster -Cluster etcd</code>
/// <para>Compacts to the current revision, defragments every member and clears NOSPACE; shows the total database size before and after.</para>
/// </example>
/// <example>
/// <code>Optimize-EtcdCluster -Cluster etcd -KeepRevisions 1000 -Confirm:$false | Select-Object -ExpandProperty Defragmentations</code>
/// <para>Keeps the newest 1000 revisions and lists each member's size before and after.</para>
/// </example>
[Cmdlet(VerbsCommon.Optimize, "EtcdCluster", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdOptimization))]
public sealed class OptimizeEtcdClusterCommand : EtcdMaintenanceCmdlet
{
    /// <summary>Keep this many newest revisions when compacting (default 0: only the current values).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long KeepRevisions { get; set; }

    /// <summary>Defragment even a one-member cluster (it pauses while that runs); also skips the prompt.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override TimeSpan RequestTimeout => TimeSpan.FromSeconds(Math.Max(TimeoutSeconds, 300));

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMaintenanceAsync(ct);
        if (!ShouldProcessUnlessForced(Force, TargetDescription, $"Compact (keeping {KeepRevisions} revisions), defragment every member one at a time, clear NOSPACE alarms")) return;
        WriteObject(await service.OptimizeAsync(KeepRevisions, Force, ct));
    }
}
