using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Restores an etcd snapshot into a NEW cluster and waits for a healthy quorum.</para>
/// <para type="description">The snapshot is verified first (SHA-256 and database; a truncated or damaged file is refused with SnapshotTruncated or SnapshotCorrupted) and the name must be free (ClusterExists): nothing is created before both pass, and no existing cluster is ever touched. Then the cluster is made as New-EtcdCluster makes it (network, volumes, containers, TLS with -Tls), each member's volume gets its data directory from the snapshot through the etcd tool in the cluster's own image (etcdctl snapshot restore on etcd 3.4, etcdutl from 3.5) in a short-lived container, and the members start. Keys, values and revisions are the snapshot's; member and cluster IDs are new. A failure or Ctrl+C at any point removes everything this call created.</para>
/// </summary>
/// <example>
/// <code>Restore-EtcdSnapshot ./etcd-before-upgrade.db -Name etcd2 -Size 3</code>
/// <para>Makes the three-member cluster etcd2 holding the snapshot's key space.</para>
/// </example>
/// <example>
/// <code>$c = Restore-EtcdSnapshot ./backup.db -Name restored -Tls; Get-EtcdKey -Cluster $c -Key /registry/ -Prefix -CountOnly</code>
/// <para>Restores into a new TLS cluster and counts the Kubernetes objects in it.</para>
/// </example>
[Cmdlet(VerbsData.Restore, "EtcdSnapshot", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdCluster))]
public sealed class RestoreEtcdSnapshotCommand : EtcdClusterSpecCmdlet
{
    /// <summary>The snapshot file (from Save-EtcdSnapshot or etcdctl snapshot save).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "FilePath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Name of the new cluster; it must not exist.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        try
        {
            var spec = Check(BuildSpec(Name));
            if (!ShouldProcess($"etcd cluster '{Name}' ({Summary}) from {path}", "Restore snapshot into a new cluster")) return;
            var docker = await GetDockerAsync(ct);
            WriteObject(await EtcdServices.Restore(docker, this).RestoreAsync(path, spec, ct));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
