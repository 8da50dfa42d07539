using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Compacts an etcd cluster's key history: revisions older than the one given become unreadable.</para>
/// <para type="description">-KeepRevisions N keeps the newest N revisions (compacts to the current revision minus N); -Revision compacts to that revision. The compaction is physical: it returns when the old revisions are gone from every member's backend, so Invoke-EtcdDefragmentation can then return the space. Reading an older revision afterwards fails with "required revision has been compacted", as with etcdctl. A revision that is already compacted is not an error (Compacted is $false).</para>
/// </summary>
/// <example>
/// <code>Invoke-EtcdCompaction -Cluster etcd -KeepRevisions 1000</code>
/// <para>Keeps the newest 1000 revisions and discards older history.</para>
/// </example>
/// <example>
/// <code>Invoke-EtcdCompaction -Cluster etcd -Revision 5000 -Confirm:$false</code>
/// <para>Compacts to revision 5000 without asking.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Invoke, "EtcdCompaction", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdCompaction))]
public sealed class InvokeEtcdCompactionCommand : EtcdMaintenanceCmdlet
{
    /// <summary>Keep this many newest revisions (default 0: keep only the current values).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long KeepRevisions { get; set; }

    /// <summary>Compact to this revision (instead of -KeepRevisions).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long Revision { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var hasRevision = MyInvocation.BoundParameters.ContainsKey(nameof(Revision));
        if (hasRevision && MyInvocation.BoundParameters.ContainsKey(nameof(KeepRevisions)))
        {
            throw new Common.K3dEtcdException(Common.ErrorCatalog.CompactionArgumentsConflict, "Use either -Revision or -KeepRevisions, not both.");
        }
        var service = await GetMaintenanceAsync(ct);
        var what = hasRevision ? $"to revision {Revision}" : $"keeping the newest {KeepRevisions} revisions";
        if (!ShouldProcess(TargetDescription, $"Compact the key history {what}")) return;
        WriteObject(await service.CompactAsync(hasRevision ? Revision : null, hasRevision ? null : KeepRevisions, ct));
    }
}
