using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Rebuilds a lost or corrupt member with the same name, peer and client URLs and host port, on a fresh volume.</para>
/// <para type="description">For a member whose container or data volume is gone (docker rm, docker volume rm, a lost disk) or whose data is corrupt. The member is removed from etcd's membership while the other members keep a quorum, its container is removed, and it is added again through the path Add-EtcdMember takes: at its own index, with its own host port (from its container, or the record the cluster's labels carry when the container is gone) and the certificates it had, on a fresh volume, as a learner where etcd has learners (3.4+) and promoted once it has caught up. Its old volume is removed once it has joined. The k3s servers' endpoint list stays right because nothing about the member's address changes.</para>
/// <para type="description">Refused when the other members have no quorum (RepairNeedsQuorum; then Restore-EtcdSnapshot -Cluster NAME -Replace or Repair-EtcdCluster -FromMember is the way), when another member is stopped (EtcdClusterDegraded), or when the member is the serving leader. Asks for confirmation unless -Force or -Confirm:$false; -WhatIf shows what it would do.</para>
/// </summary>
/// <example>
/// <code>docker volume rm -f prod1-data; Repair-EtcdMember -Cluster prod -Name prod1 -Force</code>
/// <para>prod1 lost its volume: it comes back as prod1 at the same URL with a fresh copy of the data from the leader.</para>
/// </example>
/// <example>
/// <code>Repair-EtcdMember prod prod2 -WhatIf</code>
/// <para>Shows which member would be removed from the membership and added again, and at which host port.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Repair, "EtcdMember", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(EtcdClusterMember))]
public sealed class RepairEtcdMemberCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ClusterName")]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Cluster { get; set; } = "";

    /// <summary>The member to rebuild (its container name, such as prod1, even when the container is gone).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(EtcdMemberNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for the member to catch up and for the cluster to be healthy, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            var service = EtcdServices.Members(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
            if (!ShouldProcessUnlessForced(Force, $"etcd member {Name} of cluster '{Cluster}' (member remove, container removed, added again at the same URLs and host port on a fresh volume; the old volume removed once it has joined)", "Repair")) return;
            WriteObject(await service.RepairMemberAsync(Cluster, Name, ct));
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
