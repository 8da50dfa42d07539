using System.Management.Automation;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Saves a snapshot of an etcd cluster's key space to a file (etcd's v3 Maintenance snapshot), with progress.</para>
/// <para type="description">The snapshot of one member that has a leader is streamed to a temporary file beside -Path, chunk by chunk (memory use does not grow with the database). When the stream is complete, the SHA-256 etcd appends is checked and the database is read back; only then is the file renamed to -Path. A failed or cancelled (Ctrl+C) save leaves no file. An existing file is replaced only with -Force, and only after the new snapshot is verified.</para>
/// <para type="description">The result carries Revision, TotalKeys and Hash as etcdctl snapshot status prints them, the SHA-256, the cluster and the etcd version. Restore it into a new cluster with Restore-EtcdSnapshot.</para>
/// <para type="description">With -Directory instead of -Path the file is named &lt;cluster&gt;-r&lt;revision&gt;-&lt;yyyyMMddTHHmmssZ&gt;.db (the UTC time of the save), written and verified the same way. With -Keep N, older snapshots of that cluster in the folder are then removed so that at most N valid ones remain: only after the new one is verified, every older one is verified before it is counted (a damaged file is never counted, never the reason a valid one goes, and is left in place with a warning), and files whose names do not follow that pattern are never touched. Register-EtcdBackup runs exactly this on a schedule.</para>
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
/// <example>
/// <code>Save-EtcdSnapshot -Cluster prod -Directory /backups/prod -Keep 10</code>
/// <para>Saves /backups/prod/prod-r&lt;revision&gt;-&lt;UTC time&gt;.db, verifies it, then removes the oldest valid snapshots of prod there beyond the newest 10.</para>
/// </example>
/// <example>
/// <code>Save-EtcdSnapshot -Cluster prod -Directory /backups/prod -Keep 3 -WhatIf</code>
/// <para>Shows which snapshots of prod in /backups/prod a save would leave and which it would remove, and changes nothing.</para>
/// </example>
[Cmdlet(VerbsData.Save, "EtcdSnapshot", DefaultParameterSetName = ClusterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(EtcdSnapshot))]
public sealed class SaveEtcdSnapshotCommand : EtcdDataCmdlet
{
    /// <summary>File to write the snapshot to. Its directory must exist. Give either -Path or -Directory.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    [Alias("FilePath")]
    public string? Path { get; set; }

    /// <summary>Folder (it must exist) to write a snapshot named &lt;cluster&gt;-r&lt;revision&gt;-&lt;yyyyMMddTHHmmssZ&gt;.db (UTC) into, instead of -Path; needs -Cluster.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Directory { get; set; }

    /// <summary>With -Directory: after the new snapshot is verified, keep at most this many valid snapshots of the cluster in the folder (the newest by the time in their names) and remove the older ones.</summary>
    [Parameter]
    [ValidateRange(1, 100000)]
    public int? Keep { get; set; }

    /// <summary>Replace an existing file (only after the new snapshot is complete and verified); with -Path only.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        if ((Path is null) == (Directory is null))
        {
            throw new Common.K3dEtcdException(Common.ErrorCatalog.SnapshotTargetConflict, "Give either -Path (a file) or -Directory (a folder for timestamped snapshots), not both and not neither.");
        }
        if (Directory is not null)
        {
            await SaveToDirectoryAsync(ct);
            return;
        }
        if (Keep is not null)
        {
            throw new Common.K3dEtcdException(Common.ErrorCatalog.SnapshotTargetConflict, "-Keep prunes a folder of timestamped snapshots: it needs -Directory, not -Path.");
        }
        var path = GetUnresolvedProviderPathFromPSPath(Path!);
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

    private async Task SaveToDirectoryAsync(CancellationToken ct)
    {
        if (Force) throw new Common.K3dEtcdException(Common.ErrorCatalog.SnapshotTargetConflict, "-Force replaces the file of -Path; a snapshot saved with -Directory always gets a new name.");
        if (ParameterSetName != ClusterSet) throw new Common.K3dEtcdException(Common.ErrorCatalog.SnapshotTargetConflict, "-Directory names its files after the cluster: use -Cluster, not -Endpoint (or -Path with -Endpoint).");
        var directory = GetUnresolvedProviderPathFromPSPath(Directory!);
        var connection = await GetConnectionAsync(ct);
        var cluster = TargetCluster!.Name;
        var action = Keep is int keep ? $"Save a snapshot of {cluster} and keep the newest {keep} valid snapshots of it" : $"Save a snapshot of {cluster}";
        if (!ShouldProcess(directory, action))
        {
            if (Keep is int n && System.IO.Directory.Exists(directory))
            {
                // -WhatIf: what the save would remove (the new snapshot takes one of the N places).
                var plan = SnapshotRetention.Plan(directory, cluster, n, null, ct);
                var wouldRemove = plan.Keep.Skip(n - 1).Concat(plan.Remove);
                foreach (var s in wouldRemove) ShouldProcess(s.Path, "Remove (older than the newest " + n + ")");
                foreach (var (bad, reason) in plan.Invalid) WriteWarning($"{bad.Path} fails verification and would not be counted (left in place): {reason}");
            }
            return;
        }
        try
        {
            var kept = K3dEtcd.Pki.K3sTokenStore.ReadAll(K3dEtcd.Pki.K3sTokenStore.EtcdDirectory(TargetCluster));
            var byKey = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k3d, token) in kept) byKey.TryAdd(K3dEtcd.K3d.K3sToken.BootstrapKey(token), k3d);
            WriteObject(await new EtcdSnapshotService(connection).SaveToDirectoryAsync(directory, cluster, Keep, ct, byKey));
        }
        catch (Common.K3dEtcdException ex) when (ex.Kind is not Common.FailureKind.ConnectionError)
        {
            WriteFailure(ex);
        }
    }
}
