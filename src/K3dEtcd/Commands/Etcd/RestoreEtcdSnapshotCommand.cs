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
public sealed class RestoreEtcdSnapshotCommand : K3dEtcdCmdlet
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

    /// <summary>Number of members, 1 to 9 (default 3).</summary>
    [Parameter]
    [ValidateRange(1, EtcdClusterSpec.MaxSize)]
    public int Size { get; set; } = 3;

    /// <summary>etcd image of the new cluster; its own etcdctl (3.4) or etcdutl (3.5+) restores the snapshot. Default as for New-EtcdCluster.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = EtcdClusterSpec.DefaultImage();

    /// <summary>Serve clients and peers over https with a newly generated CA (as New-EtcdCluster -Tls).</summary>
    [Parameter]
    public SwitchParameter Tls { get; set; }

    /// <summary>Extra DNS names or IP addresses for every member's server certificate (with -Tls).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] TlsSan { get; set; } = [];

    /// <summary>The new cluster's initial cluster token (default etcd-cluster).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ClusterToken { get; set; } = EtcdClusterSpec.DefaultClusterToken;

    /// <summary>Docker network to put the members on (default: a new network k3detcd-NAME).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Network { get; set; }

    /// <summary>Host address to publish the client ports on (default 127.0.0.1).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string HostAddress { get; set; } = "127.0.0.1";

    /// <summary>etcd's backend quota in bytes for the new cluster (as New-EtcdCluster -QuotaBackendBytes).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long QuotaBackendBytes { get; set; }

    /// <summary>How long to wait for a healthy quorum (default 60).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>Missing (default) pulls a missing image; Never makes it an error.</summary>
    [Parameter]
    public ImagePullPolicy PullPolicy { get; set; } = EtcdClusterSpec.DefaultPullPolicy();

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        var spec = new EtcdClusterSpec
        {
            Name = Name, Size = Size, Image = Image, Tls = Tls, TlsSans = TlsSan, ClusterToken = ClusterToken, Network = Network,
            HostAddress = HostAddress, Timeout = TimeSpan.FromSeconds(TimeoutSeconds), PullPolicy = PullPolicy,
            QuotaBackendBytes = MyInvocation.BoundParameters.ContainsKey(nameof(QuotaBackendBytes)) ? QuotaBackendBytes : null,
        };
        try
        {
            EtcdClusterService.ValidateSpec(spec);
            if (!ShouldProcess($"etcd cluster '{Name}' ({Size} members, image {Image}{(Tls ? ", TLS" : "")}) from {path}", "Restore snapshot into a new cluster")) return;
            var docker = await GetDockerAsync(ct);
            WriteObject(await EtcdServices.Restore(docker, this).RestoreAsync(path, spec, ct));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
