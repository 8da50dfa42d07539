using System.Management.Automation;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Saves a snapshot of an etcd cluster's key space to a file (etcd's v3 Maintenance snapshot), with progress.</para>
/// <para type="description">The snapshot of one member that has a leader is streamed to a temporary file beside -Path, chunk by chunk (memory use does not grow with the database). When the stream is complete, the SHA-256 etcd appends is checked and the database is read back; only then is the file renamed to -Path. A failed or cancelled (Ctrl+C) save leaves no file. An existing file is replaced only with -Force, and only after the new snapshot is verified.</para>
/// <para type="description">The result carries Revision, TotalKeys and Hash as etcdctl snapshot status prints them, the SHA-256, the cluster and the etcd version. Restore it into a new cluster with Restore-EtcdSnapshot.</para>
/// <para type="description">BootstrapKeys lists the k3s bootstrap keys (/bootstrap/...) in the snapshot (one keys-only read at the snapshot's revision), and K3dClusters the k3d clusters whose bootstrap data it holds: those whose k3s token, kept by New-K3dCluster, hashes to one of those keys. A k3s cluster on a restored datastore needs that token (Get-K3dCluster -IncludeToken).</para>
/// </summary>
/// <example>
/// <code>$snap = Save-EtcdSnapshot -Cluster etcd -Path ./etcd-before-upgrade.db</code>
/// <para>Saves the key space of the cluster "etcd" before an upgrade and keeps the result (revision, keys, hash) in $snap.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCluster etcd | Save-EtcdSnapshot -Path "./etcd-$(Get-Date -Format yyyyMMdd-HHmm).db"</code>
/// <para>A timestamped backup from a cluster object in the pipeline.</para>
/// </example>
[Cmdlet(VerbsData.Save, "EtcdSnapshot", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(EtcdSnapshot))]
public sealed class SaveEtcdSnapshotCommand : EtcdDataCmdlet
{
    /// <summary>File to write the snapshot to. Its directory must exist.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [Alias("FilePath")]
    public string Path { get; set; } = "";

    /// <summary>Replace an existing file (only after the new snapshot is complete and verified).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        var connection = await GetConnectionAsync(ct);
        var action = File.Exists(path) ? "Replace with a snapshot of " + TargetDescription : "Save a snapshot of " + TargetDescription;
        if (!ShouldProcess(path, action)) return;
        try
        {
            // Whose k3s bootstrap data it holds: the keys of the tokens New-K3dCluster kept for this cluster's k3d clusters.
            var kept = TargetCluster is null ? [] : K3dEtcd.Pki.K3sTokenStore.ReadAll(K3dEtcd.Pki.K3sTokenStore.EtcdDirectory(TargetCluster));
            var byKey = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k3d, token) in kept) byKey.TryAdd(K3dEtcd.K3d.K3sToken.BootstrapKey(token), k3d);
            WriteObject(await new EtcdSnapshotService(connection).SaveAsync(path, TargetCluster?.Name, Force, ct, byKey));
        }
        catch (Common.K3dEtcdException ex) when (ex.Kind is not Common.FailureKind.ConnectionError)
        {
            WriteFailure(ex);
        }
    }
}
