using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

/// <summary>
/// Test-EtcdSnapshot: a restore drill. The snapshot is read (SHA-256, database, revision and live
/// keys), restored through <see cref="EtcdRestoreService"/> (the path Restore-EtcdSnapshot takes)
/// into a throwaway one-member cluster drill-xxxxxxxx on the session's engine, the restored
/// member's revision and key count are read with a count-only range over the whole key space, and
/// the cluster is removed in every case (success, failure, cancellation). Failures the snapshot
/// causes become a failed verdict; the others (Docker, the image, the file missing) are errors.
/// </summary>
public sealed partial class EtcdSnapshotDrillService(EtcdClusterService clusters, EtcdRestoreService restore, IOperationLog log)
{
    public const string NamePrefix = "drill-";
    private const int ActivityId = 11;

    /// <summary>What the snapshot is to blame for: a verdict with Passed = false, not an error.</summary>
    private static readonly HashSet<string> SnapshotFailures = new(StringComparer.Ordinal)
    {
        ErrorCatalog.SnapshotTruncated.Id, ErrorCatalog.SnapshotCorrupted.Id, ErrorCatalog.SnapshotRestoreFailed.Id,
        ErrorCatalog.ClusterStartTimeout.Id, ErrorCatalog.MemberExited.Id,
    };

    /// <summary>Restores <paramref name="snapshotPath"/> into a throwaway cluster and compares; the cluster is gone when this returns or throws.</summary>
    public async Task<EtcdSnapshotDrill> TestAsync(string snapshotPath, string image, ImagePullPolicy pullPolicy, TimeSpan timeout, CancellationToken ct)
    {
        snapshotPath = Path.GetFullPath(snapshotPath);
        if (!File.Exists(snapshotPath))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotNotFound, $"No snapshot file '{snapshotPath}'.", snapshotPath);
        }
        var name = NamePrefix + Guid.NewGuid().ToString("N")[..8];
        var activity = $"Restore drill of {Path.GetFileName(snapshotPath)} in {name}";
        var total = Stopwatch.StartNew();
        SnapshotFileInfo? info = null;
        long? actualRevision = null, actualKeys = null;
        TimeSpan restoreTime = default, checkTime = default;
        var created = false;
        string? reason = null, errorId = null;
        try
        {
            log.Progress(new OperationProgress(activity, "Reading the snapshot", 0, ActivityId));
            var clock = Stopwatch.StartNew();
            try
            {
                info = SnapshotFile.ReadWithLiveKeys(snapshotPath, null, ct);
                log.Verbose($"Snapshot {snapshotPath}: revision {info.Revision}, {info.LiveKeys} live keys, {info.TotalKeys} records.");
                log.Progress(new OperationProgress(activity, $"Restoring into {name} ({image})", 20, ActivityId));
                created = true;
                var cluster = await restore.RestoreAsync(snapshotPath, new EtcdClusterSpec
                {
                    Name = name, Size = 1, Image = image, PullPolicy = pullPolicy, Timeout = timeout,
                }, ct).ConfigureAwait(false);
                restoreTime = clock.Elapsed;
                log.Progress(new OperationProgress(activity, "Counting the restored keys", 80, ActivityId));
                clock.Restart();
                (actualRevision, actualKeys) = await CountAsync(cluster, timeout, ct).ConfigureAwait(false);
                checkTime = clock.Elapsed;
            }
            catch (K3dEtcdException ex) when (SnapshotFailures.Contains(ex.ErrorId))
            {
                if (restoreTime == default) restoreTime = clock.Elapsed;
                (reason, errorId) = (ex.Message, ex.ErrorId);
                log.Verbose($"Restore drill of {snapshotPath} failed: {ex.ErrorId}.");
            }
            if (reason is null && info is not null && (actualRevision != info.Revision || actualKeys != info.LiveKeys))
            {
                errorId = ErrorCatalog.SnapshotDrillMismatch.Id;
                reason = $"The restored cluster differs from the snapshot: revision {actualRevision} (expected {info.Revision}), {actualKeys} keys (expected {info.LiveKeys}).";
            }
        }
        finally
        {
            // Always, with no token: a cancelled drill must not leave its cluster behind.
            if (created)
            {
                log.Progress(new OperationProgress(activity, $"Removing {name}", 95, ActivityId));
                await RemoveAsync(name).ConfigureAwait(false);
            }
            log.Progress(new OperationProgress(activity, "Done", 100, ActivityId, Completed: true));
        }
        return new EtcdSnapshotDrill
        {
            Path = snapshotPath,
            Passed = reason is null,
            ExpectedRevision = info?.Revision,
            ActualRevision = actualRevision,
            ExpectedKeys = info?.LiveKeys,
            ActualKeys = actualKeys,
            SnapshotTotalKeys = info?.TotalKeys,
            Sha256 = info?.Sha256,
            Cluster = name,
            Image = image,
            RestoreTime = restoreTime,
            CheckTime = checkTime,
            TotalTime = total.Elapsed,
            Reason = reason,
            ErrorId = errorId,
        };
    }

    private async Task<(long Revision, long Keys)> CountAsync(EtcdCluster cluster, TimeSpan timeout, CancellationToken ct)
    {
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, timeout), log);
        // etcdctl get "" --prefix --count-only: key and range end "\0" are the whole key space.
        var all = ByteString.CopyFrom(0);
        var response = await connection.CallAsync("count", o => connection.Grpc.KVClient.RangeAsync(new RangeRequest
        {
            Key = all, RangeEnd = all, CountOnly = true,
        }, o), ct, cluster.Name).ConfigureAwait(false);
        return (response.Header.Revision, response.Count);
    }

    private async Task RemoveAsync(string name)
    {
        try
        {
            var removed = await clusters.RemoveAsync(name, keepData: false, CancellationToken.None).ConfigureAwait(false);
            log.Verbose($"Removed the drill cluster {name}: {removed.Containers.Count} containers, {removed.Volumes.Count} volumes, {removed.Networks.Count} networks.");
        }
        catch (K3dEtcdException ex)
        {
            log.Warning($"The drill cluster {name} could not be removed ({ex.Message}); remove it with Remove-EtcdCluster {name} -Force.");
        }
    }

    /// <summary>
    /// The snapshots a folder holds, as Test-EtcdSnapshot tests them: every *.db file (by name), or with
    /// <paramref name="newest"/> the newest one only. A name of Save-EtcdSnapshot -Directory's form
    /// (CLUSTER-rREVISION-yyyyMMddTHHmmssZ.db) is dated by the UTC time in it, any other *.db file by its
    /// last write time (UTC); ties go to the later name.
    /// </summary>
    public static IReadOnlyList<string> SnapshotsIn(string directory, bool newest)
    {
        var files = Directory.EnumerateFiles(directory, "*.db", SearchOption.TopDirectoryOnly)
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotDirectoryEmpty, $"The folder '{directory}' holds no snapshot (*.db) file.", directory);
        }
        if (!newest) return files;
        return [files.OrderBy(SnapshotTime).ThenBy(f => Path.GetFileName(f), StringComparer.Ordinal).Last()];
    }

    /// <summary>When a snapshot file was taken: the UTC time in a Save-EtcdSnapshot -Directory name, else its last write time.</summary>
    public static DateTime SnapshotTime(string file)
    {
        var m = DirectoryName().Match(Path.GetFileName(file));
        return m.Success && DateTime.TryParseExact(m.Groups["time"].Value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : File.GetLastWriteTimeUtc(file);
    }

    [GeneratedRegex(@"^.+-r[0-9]+-(?<time>[0-9]{8}T[0-9]{6}Z)\.db$", RegexOptions.CultureInvariant)]
    private static partial Regex DirectoryName();
}
