using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Data;
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
        IReadOnlyList<EtcdMemberStatus> members;
        try
        {
            var connection = await GetConnectionAsync(ct);
            members = await new EtcdClusterStatusService(connection).GetMembersAsync(TargetHostEndpoints, ct);
        }
        catch (K3dEtcdException ex) when (TargetCluster is not null
            && ex.Kind is FailureKind.ConnectionError or FailureKind.OperationTimeout or FailureKind.ResourceUnavailable)
        {
            // No member answers: list them from what Docker knows, each with the reason, rather than nothing.
            WriteWarning($"No member of {TargetCluster.Name} answered: {ex.Message}");
            members = TargetCluster.Members.Select(m => new EtcdMemberStatus
            {
                Id = m.Id, Name = m.Name, PeerUrls = [m.PeerUrl], ClientUrls = [m.NetworkClientUrl], Endpoint = m.ClientUrl,
                Healthy = false, Error = m.ClientUrl is null ? $"its container is {m.State}" : ex.Message,
            }).ToList();
        }
        foreach (var m in members.OrderBy(m => m.Name, StringComparer.Ordinal)) WriteObject(m);
    }
}
