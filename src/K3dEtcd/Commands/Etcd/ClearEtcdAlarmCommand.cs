using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Clears (disarms) etcd alarms.</para>
/// <para type="description">Disarms every alarm of the cluster, or only those of -Alarm or -Member. Clearing NOSPACE before space is freed only lets etcd raise it again at the next write: Optimize-EtcdCluster compacts and defragments first. Clearing CORRUPT hides a real inconsistency; check Test-EtcdCluster -Consistency first.</para>
/// </summary>
/// <example>
/// <code>Clear-EtcdAlarm -Cluster etcd</code>
/// <para>Disarms every alarm of the cluster (asks first).</para>
/// </example>
/// <example>
/// <code>Clear-EtcdAlarm -Cluster etcd -Alarm NOSPACE -Confirm:$false -PassThru</code>
/// <para>Disarms the NOSPACE alarms without asking and shows which were cleared.</para>
/// </example>
[Cmdlet(VerbsCommon.Clear, "EtcdAlarm", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdAlarm))]
public sealed class ClearEtcdAlarmCommand : EtcdMaintenanceCmdlet
{
    /// <summary>Only these alarm types (NOSPACE, CORRUPT).</summary>
    [Parameter]
    [ValidateSet("NOSPACE", "CORRUPT", IgnoreCase = true)]
    public string[]? Alarm { get; set; }

    /// <summary>Only the alarms of these members (names or hex IDs).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    public string[]? Member { get; set; }

    /// <summary>Return the alarms that were cleared.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMaintenanceAsync(ct);
        var alarms = (await service.GetAlarmsAsync(ct))
            .Where(a => Alarm is null || Alarm.Contains(a.Alarm, StringComparer.OrdinalIgnoreCase))
            .Where(a => Member is null || Member.Contains(a.MemberName ?? "", StringComparer.Ordinal) || Member.Contains(a.MemberId, StringComparer.OrdinalIgnoreCase))
            .ToList();
        if (alarms.Count == 0)
        {
            WriteVerbose($"No matching alarm on {TargetDescription}.");
            return;
        }
        var chosen = alarms.Where(a => ShouldProcess($"{a.Alarm} alarm of member {a.MemberName ?? a.MemberId} on {TargetDescription}", "Clear")).ToList();
        var cleared = await service.ClearAlarmsAsync(chosen, ct);
        if (PassThru) WriteObject(cleared, enumerateCollection: true);
    }
}
