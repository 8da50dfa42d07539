using System.Management.Automation;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets the members of an etcd cluster with each member's own status: leader, raft term and index, database size, version and health.</para>
/// <para type="description">The member list comes from the cluster; each member is then asked for its status at the URL this host reaches it at. A member that cannot be reached is listed with Healthy $false and the reason in Error; it is never dropped.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdMember -Cluster $c</code>
/// <para>Shows the members, which one leads, and whether each is healthy.</para>
/// </example>
/// <example>
/// <code>Get-EtcdMember -Endpoint http://127.0.0.1:2379 | Where-Object { -not $_.Healthy } | Select-Object Name, Error</code>
/// <para>Lists the members of any etcd that are not healthy, with the reason.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdMember", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdMemberStatus))]
public sealed class GetEtcdMemberCommand : EtcdDataCmdlet
{
    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var connection = await GetConnectionAsync(ct);
        var members = await new EtcdClusterStatusService(connection).GetMembersAsync(TargetHostEndpoints, ct);
        foreach (var m in members.OrderBy(m => m.Name, StringComparer.Ordinal)) WriteObject(m);
    }
}
