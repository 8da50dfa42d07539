using System.Management.Automation;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Operations;
using K3dEtcd.Services;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">A restore drill: restores a snapshot into a throwaway one-member cluster, compares its revision and key count with the snapshot's, removes the cluster and returns the verdict.</para>
/// <para type="description">The snapshot is read first (SHA-256 and database, as Get-EtcdSnapshot reads it), then restored as Restore-EtcdSnapshot restores it, into a new one-member cluster named drill-xxxxxxxx (random) on the session's Docker engine with the module's default etcd image or -Image. The restored member's revision and key count (a count-only range over the whole key space, what etcdctl get "" --prefix --count-only prints) are compared with the snapshot's revision and the number of keys live in it. The throwaway cluster (container, volume, network) is removed in every case: passed, failed, or stopped with Ctrl+C. No other cluster and not the snapshot file are touched.</para>
/// <para type="description">The verdict has Passed, ExpectedRevision/ActualRevision, ExpectedKeys/ActualKeys, SnapshotTotalKeys (etcdctl snapshot status "totalKey", which counts every record of the database, every revision included, and is therefore not compared), RestoreTime, CheckTime and TotalTime, and Reason and ErrorId when it failed. A truncated or damaged snapshot, one etcd's restore tool refuses, or one whose member does not start gives a verdict with Passed $false (ErrorId SnapshotTruncated, SnapshotCorrupted, SnapshotRestoreFailed, ClusterStartTimeout or MemberExited; SnapshotDrillMismatch when the figures differ), not an error, so a script can test a whole folder and filter on Passed. A path that does not exist is a SnapshotNotFound error, a folder without *.db files SnapshotDirectoryEmpty; Docker or image failures are errors too (they say nothing about the snapshot).</para>
/// <para type="description">-Path may name a folder: every *.db file in it is tested (in name order), or with -Newest only the newest: for names of the form Save-EtcdSnapshot -Directory writes (CLUSTER-rREVISION-yyyyMMddTHHmmssZ.db) the UTC time in the name decides, for any other *.db file its last write time.</para>
/// </summary>
/// <example>
/// <code>Test-EtcdSnapshot /backups/prod -Newest</code>
/// <para>Restores the newest snapshot of the folder in a throwaway cluster and shows whether it passed, with its figures and timings.</para>
/// </example>
/// <example>
/// <code>Test-EtcdSnapshot ./etcd-before-upgrade.db -Image gcr.io/etcd-development/etcd:v3.5.21 | Format-List</code>
/// <para>Drills one snapshot with a given etcd image and shows every property of the verdict.</para>
/// </example>
/// <example>
/// <code>Test-EtcdSnapshot /backups/prod | Where-Object { -not $_.Passed } | Select-Object Path, ErrorId, Reason</code>
/// <para>Tests every snapshot of a folder and lists those that would not restore, with the reason.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "EtcdSnapshot", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(EtcdSnapshotDrill))]
public sealed class TestEtcdSnapshotCommand : K3dEtcdCmdlet
{
    /// <summary>A snapshot file, or a folder of snapshot files (*.db; all of them, or the newest with -Newest). Wildcards are allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "FilePath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>With a folder: test only its newest snapshot (the UTC time in a Save-EtcdSnapshot -Directory name, else the file's last write time).</summary>
    [Parameter]
    public SwitchParameter Newest { get; set; }

    /// <summary>etcd image for the throwaway cluster (default the module's default image, or K3DETCD_ETCD_IMAGE). Its own etcdctl (3.4) or etcdutl (3.5 and later) restores the snapshot.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = EtcdClusterSpec.DefaultImage();

    /// <summary>Missing (default) pulls a missing image with progress; Never makes a missing image an error. Default from K3DETCD_PULL_POLICY.</summary>
    [Parameter]
    public ImagePullPolicy PullPolicy { get; set; } = EtcdClusterSpec.DefaultPullPolicy();

    /// <summary>How long the throwaway member may take to start with a leader, and each etcd call (default 60 seconds).</summary>
    [Parameter]
    [Alias("Timeout")]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        foreach (var p in Path)
        {
            IEnumerable<string> files;
            try
            {
                files = Expand(p);
            }
            catch (K3dEtcdException ex)
            {
                WriteFailure(ex);
                continue;
            }
            foreach (var file in files)
            {
                if (!ShouldProcess(file, $"Restore drill in a throwaway one-member cluster ({Image})")) continue;
                try
                {
                    var drill = EtcdServices.SnapshotDrill(await GetDockerAsync(ct), this);
                    WriteObject(await drill.TestAsync(file, Image, PullPolicy, TimeSpan.FromSeconds(TimeoutSeconds), ct));
                }
                catch (K3dEtcdException ex) when (IsPerItem(ex))
                {
                    WriteFailure(ex);
                }
            }
        }
    }

    /// <summary>The snapshot files one -Path names: wildcards resolved, a folder expanded; SnapshotNotFound when nothing is there.</summary>
    private IReadOnlyList<string> Expand(string p)
    {
        IEnumerable<string> paths;
        try
        {
            paths = WildcardPattern.ContainsWildcardCharacters(p) ? GetResolvedProviderPathFromPSPath(p, out _) : [GetUnresolvedProviderPathFromPSPath(p)];
        }
        catch (ItemNotFoundException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotNotFound, ex.Message, p, ex);
        }
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path)) files.AddRange(EtcdSnapshotDrillService.SnapshotsIn(path, Newest));
            else if (File.Exists(path)) files.Add(path);
            else throw new K3dEtcdException(ErrorCatalog.SnapshotNotFound, $"No snapshot file or folder '{path}'.", path);
        }
        return files;
    }
}
