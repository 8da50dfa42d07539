using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Services;
using K3dEtcd.Model;
using K3dEtcd.Members;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// Shared targeting of the member lifecycle cmdlets: a cluster (object or name) with -Name,
/// -Leader or -All, or member objects from the pipeline.
/// </summary>
public abstract class EtcdMemberCmdlet : K3dEtcdCmdlet
{
    protected const string ByName = "Name";
    protected const string ByLeader = "Leader";
    protected const string ByAll = "All";
    protected const string ByMember = "Member";

    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Parameter(ParameterSetName = ByLeader, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Parameter(ParameterSetName = ByAll, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>Member names (container names such as etcd0) or member IDs in hex.</summary>
    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Acts on the member that is the leader now.</summary>
    [Parameter(ParameterSetName = ByLeader, Mandatory = true)]
    public SwitchParameter Leader { get; set; }

    /// <summary>Acts on every member of the cluster.</summary>
    [Parameter(ParameterSetName = ByAll, Mandatory = true)]
    public SwitchParameter All { get; set; }

    /// <summary>Member objects, for example $cluster.Members or (Get-EtcdCluster x).Members.</summary>
    [Parameter(ParameterSetName = ByMember, Mandatory = true, ValueFromPipeline = true)]
    [Alias("InputObject")]
    [ValidateNotNullOrEmpty]
    public EtcdClusterMember[] Member { get; set; } = [];

    /// <summary>How long to wait for the expected state (stopped; healthy and caught up), in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected async Task<EtcdMemberService> GetMemberServiceAsync(CancellationToken ct) =>
        EtcdServices.Members(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));

    /// <summary>The targets of this record, grouped by cluster, read back from Docker.</summary>
    protected async Task<IReadOnlyList<(EtcdCluster Cluster, IReadOnlyList<EtcdClusterMember> Members)>> ResolveTargetsAsync(EtcdMemberService service, CancellationToken ct)
    {
        if (ParameterSetName == ByMember)
        {
            var result = new List<(EtcdCluster, IReadOnlyList<EtcdClusterMember>)>();
            foreach (var group in Member.GroupBy(m => m.ClusterName, StringComparer.Ordinal))
            {
                var cluster = await service.GetClusterAsync(group.Key, ct);
                result.Add((cluster, group.Select(m => EtcdMemberService.ResolveMember(cluster, m.Name)).ToList()));
            }
            return result;
        }
        var c = await service.GetClusterAsync(Cluster.Name, ct);
        IReadOnlyList<EtcdClusterMember> members = ParameterSetName switch
        {
            ByLeader => [await service.FindLeaderAsync(c, ct)],
            ByAll => c.Members,
            _ => Name.Select(n => EtcdMemberService.ResolveMember(c, n)).DistinctBy(m => m.Name).ToList(),
        };
        return [(c, members)];
    }
}
