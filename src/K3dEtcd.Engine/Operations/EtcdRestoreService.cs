using System.Globalization;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Operations;

/// <summary>
/// Makes a NEW cluster from a snapshot. The snapshot is verified and the name checked before
/// anything is created; then cluster creation runs as for New-EtcdCluster, and between creating
/// the members and starting them each member's volume gets its data directory from the
/// snapshot, made by the etcd tool inside the cluster's own image (etcdctl snapshot restore on
/// 3.4, etcdutl from 3.5) in a short-lived container. Any failure rolls back the whole cluster.
/// </summary>
public sealed partial class EtcdRestoreService(EtcdClusterService clusters, IOperationLog log)
{
    private readonly DockerAdapter adapter = clusters.Docker;
    private const string ProbeLabel = Labels.Prefix + "probe";
    private const string SnapshotInContainer = "/snapshot.db";

    public Task<EtcdCluster> RestoreAsync(string snapshotPath, EtcdClusterSpec spec, CancellationToken ct) =>
        RestoreAsync(snapshotPath, EtcdClusterService.Check(spec), ct);

    /// <summary>Restores into a new cluster from a spec validated once already (Restore-EtcdSnapshot validates before it asks for confirmation).</summary>
    public async Task<EtcdCluster> RestoreAsync(string snapshotPath, CheckedEtcdClusterSpec checkedSpec, CancellationToken ct)
    {
        var spec = checkedSpec.Spec;
        snapshotPath = Path.GetFullPath(snapshotPath);
        if (!adapter.EngineIsLocal)
        {
            // The tools read the snapshot through a bind mount, which needs the file on the engine's machine.
            throw new K3dEtcdException(ErrorCatalog.RestoreNeedsLocalEngine, "Restore-EtcdSnapshot bind-mounts the snapshot into the restore containers, so it needs a Docker engine on this machine.", snapshotPath);
        }
        if (await clusters.GetAsync(spec.Name, ct).ConfigureAwait(false) is not null)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterExists, $"An etcd cluster named '{spec.Name}' already exists; a snapshot is restored into a new cluster. Choose another -Name or remove that cluster first.", spec.Name);
        }
        // A damaged or truncated snapshot is refused before anything exists (etcd's tools would refuse it later, after the cluster was half made).
        var info = EtcdSnapshotService.Inspect(snapshotPath, log, ct);
        log.Verbose($"Snapshot {snapshotPath}: revision {info.Revision}, {info.TotalKeys} records, sha256 {info.Sha256}.");
        return await clusters.CreateAsync(checkedSpec.WithBeforeStart((seed, c) => RestoreVolumesAsync(seed, snapshotPath, c)), ct).ConfigureAwait(false);
    }

    /// <summary>The tool that restores snapshots in an image of this etcd version.</summary>
    internal static string ToolFor(string? version) =>
        version is not null && System.Version.TryParse(version.Split('-', '+')[0], out var v) && (v.Major < 3 || (v.Major == 3 && v.Minor < 5))
            ? "/usr/local/bin/etcdctl"
            : "/usr/local/bin/etcdutl";

    private async Task RestoreVolumesAsync(EtcdClusterSeed seed, string snapshotPath, CancellationToken ct)
    {
        var tool = ToolFor(seed.Version);
        const string activity = "Restoring the snapshot into the member volumes";
        var done = 0;
        log.Progress(new OperationProgress(activity, $"0/{seed.Containers.Count}", 0, ActivityId: 5));
        // The members' restores are independent: run them side by side.
        await Task.WhenAll(seed.Containers.Select(async (container, i) =>
        {
            await RestoreOneAsync(seed, i, tool, snapshotPath, ct).ConfigureAwait(false);
            var n = Interlocked.Increment(ref done);
            log.Progress(new OperationProgress(activity, $"{n}/{seed.Containers.Count}", 100 * n / seed.Containers.Count, ActivityId: 5));
        })).ConfigureAwait(false);
        log.Progress(new OperationProgress(activity, "Done", 100, ActivityId: 5, Completed: true));
    }

    private async Task RestoreOneAsync(EtcdClusterSeed seed, int index, string tool, string snapshotPath, CancellationToken ct)
    {
        var spec = seed.Spec;
        var container = seed.Containers[index];
        var volume = seed.Volume(index);
        var command = new List<string>
        {
            tool, "snapshot", "restore", SnapshotInContainer,
            "--name", container,
            "--initial-cluster", seed.InitialCluster,
            "--initial-cluster-token", spec.ClusterToken,
            "--initial-advertise-peer-urls", seed.PeerUrls[index],
            // The data directory the member's etcd is started with (EtcdCommandLine.Build).
            "--data-dir", "/var/lib/etcd/data",
        };
        log.Verbose($"docker run --rm --network none -v {volume}:/var/lib/etcd -v {snapshotPath}:{SnapshotInContainer}:ro {spec.Image} {string.Join(' ', command)}");
        try
        {
            // No time limit but the user's: restoring a large snapshot takes as long as it takes.
            var (exit, output) = await adapter.RunToCompletionAsync(new ContainerSpec
            {
                Name = $"{container}-restore-{Guid.NewGuid().ToString("N")[..8]}",
                Image = spec.Image,
                Command = command,
                Environment = ["ETCDCTL_API=3"],
                Labels = new Dictionary<string, string> { [ProbeLabel] = "restore" },
                Network = "none",
                Binds = [$"{volume}:/var/lib/etcd", $"{snapshotPath}:{SnapshotInContainer}:ro"],
            }, Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false);
            if (exit != 0)
            {
                var logs = string.Join(Environment.NewLine, output.Split(Environment.NewLine).Where(l => l.Trim().Length > 0).TakeLast(30));
                throw new K3dEtcdException(ErrorCatalog.SnapshotRestoreFailed, $"{Path.GetFileName(tool)} snapshot restore for member {container} exited with {exit.ToString(CultureInfo.InvariantCulture)}:{Environment.NewLine}{logs}", container);
            }
        }
        catch (DockerOperationException ex) when (tool.EndsWith("etcdutl", StringComparison.Ordinal) && ex.IsExecutableNotFound)
        {
            // An image whose version could not be read and that has no etcdutl: etcd 3.4's etcdctl restores.
            log.Verbose($"{spec.Image} has no etcdutl; restoring with etcdctl.");
            await RestoreOneAsync(seed, index, "/usr/local/bin/etcdctl", snapshotPath, ct).ConfigureAwait(false);
        }
        catch (DockerOperationException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotRestoreFailed, $"The restore container for member {container} failed: {ex.DockerMessage}", container, ex);
        }
    }
}
