using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Lists the alarms etcd members have raised (NOSPACE, CORRUPT).</para>
/// <para type="description">NOSPACE means a member's database reached its quota (--quota-backend-bytes, New-EtcdCluster -QuotaBackendBytes): etcd then refuses every write until space is freed and the alarm is cleared, which Optimize-EtcdCluster does. CORRUPT means a member's data differs from the others'. No output means no alarm.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdAlarm -Cluster etcd</code>
/// <para>Lists the cluster's alarms, one object per member and alarm.</para>
/// </example>
/// <example>
/// <code>if (Get-EtcdAlarm -Cluster etcd | Where-Object Alarm -eq NOSPACE) { Optimize-EtcdCluster -Cluster etcd }</code>
/// <para>Recovers a cluster that ran out of space.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdAlarm", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdAlarm))]
public sealed class GetEtcdAlarmCommand : EtcdMaintenanceCmdlet
{
    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMaintenanceAsync(ct);
        WriteObject(await service.GetAlarmsAsync(ct), enumerateCollection: true);
    }
}
