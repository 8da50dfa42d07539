using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Clusters;
using K3dEtcd.Members;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Removes members from an etcd cluster: etcd's member remove first, then the member's container and data volume.</para>
/// <para type="description">Refuses to remove the last member, or a member whose removal leaves fewer running members than the smaller
/// cluster's quorum, unless -Force; nothing is changed then. A member name that does not exist is an ObjectNotFound error. With
/// -Force the last member is removed together with the cluster's network (like Remove-EtcdCluster).</para>
/// </summary>
/// <example>
/// <code>Remove-EtcdMember -Cluster $c -Name etcd3 -Confirm:$false</code>
/// <para>Removes etcd3 from etcd's member list, then its container and its volume.</para>
/// </example>
/// <example>
/// <code>(Get-EtcdCluster etcd).Members | Where-Object State -ne running | Remove-EtcdMember</code>
/// <para>Removes every member that is not running, asking for confirmation for each.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "EtcdMember", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class RemoveEtcdMemberCommand : K3dEtcdCmdlet
{
    private const string ByName = "Name";
    private const string ByMember = "Member";

    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>Member names (container names such as etcd3) or member IDs in hex.</summary>
    [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Member objects, for example from $cluster.Members.</summary>
    [Parameter(ParameterSetName = ByMember, Mandatory = true, ValueFromPipeline = true)]
    [Alias("InputObject")]
    [ValidateNotNullOrEmpty]
    public EtcdClusterMember[] Member { get; set; } = [];

    /// <summary>Remove even the last member or when the quorum is lost, and do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for the remaining members to have a leader, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = EtcdServices.Members(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
        var targets = ParameterSetName == ByMember
            ? Member.Select(m => (Cluster: m.ClusterName, Name: m.Name)).ToList()
            : Name.Select(n => (Cluster: Cluster.Name, Name: n)).ToList();
        foreach (var (clusterName, name) in targets)
        {
            try
            {
                var cluster = await service.GetClusterAsync(clusterName, ct);
                var member = EtcdMemberService.ResolveMember(cluster, name);
                if (!Force) EtcdMemberService.EnsureRemovable(cluster, member);
                if (!ShouldProcessUnlessForced(Force, $"etcd member {member.Name} of cluster '{cluster.Name}' (member remove, container {member.ContainerName}, volume {member.Volume})", "Remove")) continue;
                await service.RemoveMemberAsync(cluster.Name, member.Name, ct);
            }
            catch (K3dEtcdException ex)
            {
                WriteFailure(ex);
            }
        }
    }
}
