using System.Management.Automation;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets the leader's statistics about its followers (latency and message counts), on any etcd version.</para>
/// <para type="description">Source is 'v2' when the leader serves /v2/stats/leader (etcd 3.4/3.5 with --enable-v2), else 'metrics': built from the v3 status and the leader's Prometheus /metrics, with the fields those cannot give left empty.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "EtcdLeaderStats", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdLeaderStats))]
public sealed class GetEtcdLeaderStatsCommand : EtcdDataCmdlet
{
    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var connection = await GetConnectionAsync(ct);
        WriteObject(await new EtcdClusterStatusService(connection).GetLeaderStatsAsync(TargetHostEndpoints, ct));
    }
}
