using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Restores an etcd snapshot into a new cluster, or rebuilds an existing cluster in place from it (-Replace).</para>
/// <para type="description">The snapshot is verified first (SHA-256 and database; a truncated or damaged file is refused with SnapshotTruncated or SnapshotCorrupted): nothing is created or changed before that passes.</para>
/// <para type="description">With -Name, the name must be free (ClusterExists) and no existing cluster is touched: the cluster is made as New-EtcdCluster makes it (network, volumes, containers, TLS with -Tls), each member's volume gets its data directory from the snapshot through the etcd tool in the cluster's own image (etcdctl snapshot restore on etcd 3.4, etcdutl from 3.5) in a short-lived container, and the members start. Member and cluster IDs are new. A failure or Ctrl+C removes everything this call created.</para>
/// <para type="description">With -Cluster NAME -Replace, the existing cluster is rebuilt in place after a lost quorum or a total loss: the same member names, peer and client URLs, host ports, network, CA and certificates (the files are not touched, so k3s servers holding the old endpoint list, CA file and client certificate go on working), labels and options, read from the record every member container, data volume and the cluster network carry. It works with any of them left: a cluster with two of three members gone, or one with no container and no volume left but its network or TLS directory. The old member containers are replaced; the new members get new volumes and the old volumes are kept until the new cluster is healthy, then removed (kept with -KeepData). A failure or Ctrl+C removes what the rebuild made and puts the old containers back on their untouched volumes, so the restore can be run again. A k3d cluster that uses the datastore does not stop it: that is what it is for.</para>
/// </summary>
/// <example>
/// <code>Restore-EtcdSnapshot ./etcd-before-upgrade.db -Name etcd2 -Size 3</code>
/// <para>Makes the three-member cluster etcd2 holding the snapshot's key space.</para>
/// </example>
/// <example>
/// <code>$c = Restore-EtcdSnapshot ./backup.db -Name restored -Tls; Get-EtcdKey -Cluster $c -Key /registry/ -Prefix -CountOnly</code>
/// <para>Restores into a new TLS cluster and counts the Kubernetes objects in it.</para>
/// </example>
/// <example>
/// <code>Restore-EtcdSnapshot ./prod.db -Cluster prod -Replace -WhatIf</code>
/// <para>Shows what a rebuild of prod in place would make and replace: its members, image, CA and the volumes it keeps until the rebuild is healthy.</para>
/// </example>
/// <example>
/// <code>Restore-EtcdSnapshot ./prod.db -Cluster prod -Replace -Confirm:$false; Test-EtcdCluster prod</code>
/// <para>After quorum was lost, rebuilds prod in place from the snapshot with the same endpoints and CA, then checks it.</para>
/// </example>
[Cmdlet(VerbsData.Restore, "EtcdSnapshot", SupportsShouldProcess = true, DefaultParameterSetName = NewSet)]
[OutputType(typeof(EtcdCluster))]
public sealed class RestoreEtcdSnapshotCommand : EtcdClusterSpecCmdlet
{
    private const string NewSet = "New";
    private const string ReplaceSet = "Replace";

    /// <summary>The snapshot file (from Save-EtcdSnapshot or etcdctl snapshot save).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "FilePath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Name of the new cluster; it must not exist.</summary>
    [Parameter(Mandatory = true, ParameterSetName = NewSet)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>The existing cluster to rebuild in place (with -Replace): a name, or a cluster object; a cluster Get-EtcdCluster shows as Broken works too.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ReplaceSet)]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Cluster { get; set; } = "";

    /// <summary>Rebuild the -Cluster in place from the snapshot, with its names, URLs, host ports, network, CA and options.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ReplaceSet)]
    public SwitchParameter Replace { get; set; }

    /// <summary>With -Replace: keep the old members' data volumes after the rebuild (Remove-EtcdCluster removes them with the cluster).</summary>
    [Parameter(ParameterSetName = ReplaceSet)]
    public SwitchParameter KeepData { get; set; }

    /// <summary>With -Replace: do not ask for confirmation.</summary>
    [Parameter(ParameterSetName = ReplaceSet)]
    public SwitchParameter Force { get; set; }

    // The options New-EtcdCluster takes: a rebuild in place keeps the cluster's own.
    private static readonly string[] SpecOptions =
    [
        nameof(Size), nameof(Image), nameof(Network), nameof(HostAddress), nameof(ClientPort), nameof(ClusterToken), nameof(EnableV2), nameof(ExtraArgument),
        nameof(PullPolicy), nameof(Tls), nameof(TlsSan), nameof(CertificateValidityDays), nameof(QuotaBackendBytes), nameof(AutoCompactionRetention), nameof(AutoCompactionMode),
    ];

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        try
        {
            if (ParameterSetName == ReplaceSet)
            {
                await ReplaceAsync(path, ct);
                return;
            }
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

    private async Task ReplaceAsync(string path, CancellationToken ct)
    {
        if (SpecOptions.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey) is { } option)
        {
            throw new K3dEtcdException(ErrorCatalog.ReplaceParametersConflict,
                $"-{option} does not apply with -Replace: the cluster is rebuilt with the members and options it had (its record). Restore into a new cluster (-Name) to choose them.", option);
        }
        var docker = await GetDockerAsync(ct);
        var restore = EtcdServices.Restore(docker, this);
        var plan = await restore.PlanReplaceAsync(Cluster, TimeSpan.FromSeconds(TimeoutSeconds), ct);
        if (!ShouldProcessUnlessForced(Force, $"etcd cluster '{Cluster}' from {path}: {plan.Describe()}", "Rebuild in place from a snapshot")) return;
        // Restoring into a new cluster asks nothing (ConfirmImpact Medium, as scripts know it); replacing one loses every
        // write since the snapshot, so it asks unless -Force or -Confirm was given either way.
        if (!Force && !MyInvocation.BoundParameters.ContainsKey("Confirm")
            && !ShouldContinue($"Rebuild etcd cluster '{Cluster}' in place from {path}? Every key written after the snapshot is lost.", $"Restore-EtcdSnapshot -Replace: {plan.Describe()}")) return;
        WriteObject(await restore.ReplaceAsync(path, plan, KeepData, ct));
    }
}
