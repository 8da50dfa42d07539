using System.Management.Automation;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets the leader's statistics about its followers (latency and message counts), on any etcd version.</para>
/// <para type="description">Source is 'v2' when the leader serves /v2/stats/leader (etcd 3.4/3.5 with --enable-v2), else 'metrics': built from the v3 status and the leader's Prometheus /metrics (round-trip histogram per peer, sent failures), with the fields those cannot give left empty, never invented. The answer is the same whichever member is asked first. Reachable says whether this host could reach each follower just now.</para>
/// </summary>
/// <example>
/// <code>(Get-EtcdLeaderStats -Cluster $c).Followers</code>
/// <para>Shows each follower's average latency in milliseconds and its failed and successful message counts.</para>
/// </example>
/// <example>
/// <code>Get-EtcdLeaderStats -Endpoint http://127.0.0.1:2379 | Select-Object LeaderName, Source</code>
/// <para>Shows which member leads and where the statistics came from.</para>
/// </example>
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
