using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Adds a member to a running etcd cluster: etcd's member add (as a learner, then promoted, on etcd 3.4+), then a new container that joins with --initial-cluster-state existing.</para>
/// <para type="description">The new member is named after the cluster with the next index (etcd3 after etcd0..2), carries the cluster's
/// labels, image, network, token and extra arguments, and is healthy and caught up when the command returns. etcd versions without
/// learners get a voting member directly. A failure removes the member from etcd and its container and volume again. Every member
/// must be running (etcd refuses membership changes otherwise); a stopped cluster is an error and nothing is changed.</para>
/// </summary>
/// <example>
/// <code>Add-EtcdMember -Cluster $c; (Get-EtcdCluster $c.Name).Size</code>
/// <para>Grows the cluster by one member (etcd3 after etcd0..2) and shows the new size, 4.</para>
/// </example>
/// <example>
/// <code>1..2 | ForEach-Object { Add-EtcdMember -Cluster etcd }</code>
/// <para>Grows the cluster named etcd from three to five members, one at a time.</para>
/// </example>
[Cmdlet(VerbsCommon.Add, "EtcdMember", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdClusterMember))]
public sealed class AddEtcdMemberCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>How long to wait for the new member to be healthy and caught up, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = EtcdServices.Members(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
        try
        {
            if (!ShouldProcess($"etcd cluster '{Cluster.Name}'", "Add a member")) return;
            WriteObject(await service.AddMemberAsync(Cluster.Name, ct));
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
