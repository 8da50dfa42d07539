using System.Management.Automation;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets the members of an etcd cluster with each member's own status: leader, raft term and index, database size, version and health.</para>
/// <para type="description">A member that cannot be reached is listed with Healthy $false and the reason in Error; it is never dropped.</para>
/// </summary>
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
