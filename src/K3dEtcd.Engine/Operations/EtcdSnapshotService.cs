using System.Diagnostics;
using System.Security.Cryptography;
using Etcdserverpb;
using Grpc.Core;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

/// <summary>
/// Saves a v3 snapshot of one member to a file: streamed chunk by chunk (never the whole
/// snapshot in memory) to a temporary name beside the target, verified (etcd's trailing SHA-256
/// and a walk of the database), then renamed. A failed or cancelled save deletes the temporary
/// file, so no file that looks like a snapshot is ever left half-written.
/// </summary>
public sealed class EtcdSnapshotService(EtcdConnection connection)
{
    private IOperationLog Log => connection.Log;
    private const string Activity = "Saving etcd snapshot";

    /// <summary>
    /// Streams the snapshot of the first member that answers with a leader into <paramref name="path"/>.
    /// An existing file is refused unless <paramref name="overwrite"/>; then it is replaced only once the new one is complete.
    /// </summary>
    /// <remarks>
    /// k3dByBootstrapKey: /bootstrap/ keys of the tokens kept for the cluster's k3d clusters, with
    /// their k3d names, so the result says whose bootstrap data the snapshot holds.
    /// </remarks>
    public async Task<EtcdSnapshot> SaveAsync(string path, string? clusterName, bool overwrite, CancellationToken ct,
        IReadOnlyDictionary<string, string>? k3dByBootstrapKey = null)
    {
        path = Path.GetFullPath(path);
        if (Directory.Exists(path))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotPathIsDirectory, $"'{path}' is a directory; give a file name for the snapshot.", path);
        }
        if (File.Exists(path) && !overwrite)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotFileExists, $"'{path}' already exists; choose another name or pass -Force to replace it (it is replaced only after the new snapshot is complete and verified).", path);
        }
        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotDirectoryNotFound, $"The directory '{directory}' does not exist.", directory);
        }

        return await SaveCoreAsync(directory, Path.GetFileName(path), _ => path, overwrite, clusterName, ct, k3dByBootstrapKey).ConfigureAwait(false);
    }

    /// <summary>
    /// Saves a snapshot of <paramref name="clusterName"/> into <paramref name="directory"/> as
    /// <see cref="SnapshotRetention.FileName"/> (revision and UTC time of the save), and, with
    /// <paramref name="keep"/>, then removes older valid snapshots of that cluster beyond the newest
    /// <paramref name="keep"/> (only once the new one is verified; files that fail verification are
    /// never counted, files of other names never touched). <paramref name="removed"/> gets the deleted paths.
    /// </summary>
    public async Task<EtcdSnapshot> SaveToDirectoryAsync(string directory, string clusterName, int? keep, CancellationToken ct,
        IReadOnlyDictionary<string, string>? k3dByBootstrapKey = null, List<string>? removed = null)
    {
        directory = Path.GetFullPath(directory);
        if (!Directory.Exists(directory))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotDirectoryNotFound, $"The directory '{directory}' does not exist.", directory);
        }
        var started = DateTime.UtcNow;
        string NameFor(SnapshotFileInfo info)
        {
            var path = Path.Combine(directory, SnapshotRetention.FileName(clusterName, info.Revision, started));
            // A save of the same revision within the same second: wait for the next second rather than reuse or fake a name.
            while (File.Exists(path))
            {
                Thread.Sleep(1000 - DateTime.UtcNow.Millisecond + 5);
                started = DateTime.UtcNow;
                path = Path.Combine(directory, SnapshotRetention.FileName(clusterName, info.Revision, started));
            }
            return path;
        }
        var snapshot = await SaveCoreAsync(directory, clusterName, NameFor,
            false, clusterName, ct, k3dByBootstrapKey).ConfigureAwait(false);
        if (keep is int n)
        {
            var plan = SnapshotRetention.Plan(directory, clusterName, n, snapshot.Path, ct);
            var deleted = SnapshotRetention.Apply(plan, Log);
            removed?.AddRange(deleted);
        }
        return snapshot;
    }

    private async Task<EtcdSnapshot> SaveCoreAsync(string directory, string tempStem, Func<SnapshotFileInfo, string> target, bool overwrite, string? clusterName,
        CancellationToken ct, IReadOnlyDictionary<string, string>? k3dByBootstrapKey)
    {
        var (member, status) = await PickMemberAsync(ct).ConfigureAwait(false);
        // The temporary name is unmistakable and unique, so a crash leaves nothing that passes for a snapshot.
        var temp = Path.Combine(directory, $".{tempStem}.{Guid.NewGuid():N}.part");
        var sw = Stopwatch.StartNew();
        try
        {
            Log.Verbose($"etcd: snapshot of {member.Endpoints[0]} (etcd {status.Version}) into {temp}.");
            var (written, sha) = await StreamAsync(member, temp, ct).ConfigureAwait(false);
            Log.Progress(new OperationProgress(Activity, "Verifying", 99));
            // The stream's SHA-256 was checked as it was written; reading the database back proves it is a whole bbolt file and gives its figures.
            var info = SnapshotFile.Read(temp, sha, ct: ct);
            var bootstrap = await BootstrapKeysAsync(member, info.Revision, ct).ConfigureAwait(false);
            var path = target(info);
            if (!overwrite && File.Exists(path))
            {
                throw new K3dEtcdException(ErrorCatalog.SnapshotFileExists, $"'{path}' already exists (a snapshot of the same revision saved in the same second?); nothing was replaced.", path);
            }
            File.Move(temp, path, overwrite);
            Log.Verbose($"Snapshot of {written} bytes saved to {path} in {sw.Elapsed.TotalSeconds:0.00} s.");
            var model = ToModel(info with { Path = path }, clusterName, status.Version, member.Endpoints[0], DateTime.UtcNow);
            var k3d = bootstrap.Select(k => k3dByBootstrapKey is not null && k3dByBootstrapKey.TryGetValue(k, out var n) ? n : null).OfType<string>().Distinct(StringComparer.Ordinal).ToArray();
            return model.WithBootstrap([.. bootstrap], k3d);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            Log.Progress(new OperationProgress(Activity, "Done", 100, Completed: true));
        }
    }

    /// <summary>
    /// The k3s bootstrap keys in the snapshot: one keys-only range read of /bootstrap/ on the member
    /// that streamed it, at the snapshot's revision (at the current one if that was compacted meanwhile).
    /// </summary>
    private async Task<IReadOnlyList<string>> BootstrapKeysAsync(EtcdConnection member, long revision, CancellationToken ct)
    {
        RangeRequest Request(long rev) => new()
        {
            Key = Google.Protobuf.ByteString.CopyFromUtf8("/bootstrap/"),
            RangeEnd = Google.Protobuf.ByteString.CopyFromUtf8("/bootstrap0"),
            KeysOnly = true,
            Serializable = true,
            Revision = rev,
        };
        RangeResponse range;
        try
        {
            range = await member.CallAsync("range /bootstrap/", o => member.Grpc.KVClient.RangeAsync(Request(revision), o), ct, member.Endpoints[0]).ConfigureAwait(false);
        }
        catch (K3dEtcdException ex) when (!ct.IsCancellationRequested)
        {
            Log.Verbose($"etcd: /bootstrap/ at revision {revision} could not be read ({ex.Message}); reading the current keys.");
            range = await member.CallAsync("range /bootstrap/", o => member.Grpc.KVClient.RangeAsync(Request(0), o), ct, member.Endpoints[0]).ConfigureAwait(false);
        }
        return range.Kvs.Select(kv => kv.Key.ToStringUtf8()).ToList();
    }

    public static EtcdSnapshot ToModel(SnapshotFileInfo info, string? cluster, string? version, string? endpoint, DateTime created) => new()
    {
        Path = info.Path,
        Size = info.Size,
        DatabaseSize = info.DatabaseSize,
        Revision = info.Revision,
        TotalKeys = info.TotalKeys,
        Hash = info.Hash.ToString("x", System.Globalization.CultureInfo.InvariantCulture),
        Sha256 = info.Sha256,
        Cluster = cluster,
        EtcdVersion = version,
        Endpoint = endpoint,
        Created = created,
    };

    /// <summary>Reads a snapshot file (verified); Cluster, EtcdVersion and Member stay unknown.</summary>
    public static EtcdSnapshot Inspect(string path, IOperationLog log, CancellationToken ct)
    {
        var activity = $"Verifying {Path.GetFileName(path)}";
        var lastPercent = -1;
        try
        {
            var info = SnapshotFile.Read(path, (done, total) =>
            {
                var percent = (int)(100 * done / Math.Max(1, total));
                if (percent != lastPercent) log.Progress(new OperationProgress(activity, $"{done / (1024 * 1024)} of {total / (1024 * 1024)} MiB", lastPercent = percent));
            }, ct);
            return ToModel(info, null, null, null, File.GetLastWriteTimeUtc(path));
        }
        finally
        {
            log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        }
    }

    /// <summary>A member that answers and has a leader: a snapshot from a member cut off from the cluster would be stale.</summary>
    private async Task<(EtcdConnection Member, StatusResponse Status)> PickMemberAsync(CancellationToken ct)
    {
        K3dEtcdException? last = null;
        foreach (var endpoint in connection.Endpoints)
        {
            var member = connection.ForEndpoint(endpoint);
            try
            {
                var status = await member.CallAsync("status", o => member.Grpc.MaintenanceClient.StatusAsync(new StatusRequest(), o), ct, endpoint, null, mapDeadline: true).ConfigureAwait(false);
                if (status.Leader != 0) return (member, status);
                last = new K3dEtcdException(ErrorCatalog.EtcdNoLeader, $"{endpoint} has no leader.", endpoint);
            }
            catch (K3dEtcdException ex) when (ex.Kind is FailureKind.ConnectionError or FailureKind.OperationTimeout)
            {
                last = ex;
            }
        }
        throw new K3dEtcdException(ErrorCatalog.SnapshotNoMember, $"No member of {string.Join(',', connection.Endpoints)} can serve a snapshot: {last?.Message}", string.Join(',', connection.Endpoints), last);
    }

    /// <summary>
    /// Writes the stream to <paramref name="file"/> chunk by chunk while hashing all but the last
    /// 32 bytes (the SHA-256 etcd sends last), so a stream that ends early or arrives damaged is
    /// caught here as well as by the file check.
    /// </summary>
    private async Task<(long Written, byte[] Sha256)> StreamAsync(EtcdConnection member, string file, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var tail = new byte[32];
        var tailLength = 0;
        long written = 0;
        var lastPercent = -1;
        // No deadline: a large database takes as long as it takes; Ctrl+C cancels.
        using var call = member.Grpc.MaintenanceClient.Snapshot(new SnapshotRequest(), new CallOptions(cancellationToken: ct));
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 20 };
        // A snapshot holds every secret in etcd (k3s's bootstrap data among them): owner-only, as etcdctl writes it.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (var output = new FileStream(file, options))
        {
            try
            {
                while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                {
                    var chunk = call.ResponseStream.Current;
                    var data = chunk.Blob.Memory;
                    // Synchronous: the chunk is copied into the 1 MiB buffer; async file I/O on Linux only adds a thread hop.
                    output.Write(data.Span);
                    HashAllButLast32(sha, tail, ref tailLength, data.Span);
                    written += data.Length;
                    var total = written + (long)chunk.RemainingBytes;
                    var percent = (int)(98 * written / Math.Max(1, total));
                    if (percent != lastPercent)
                    {
                        lastPercent = percent;
                        Log.Progress(new OperationProgress(Activity, $"{written / (1024 * 1024)} of {total / (1024 * 1024)} MiB from {member.Endpoints[0]}", percent));
                    }
                }
            }
            catch (RpcException ex)
            {
                ct.ThrowIfCancellationRequested();
                throw member.Map(ex, "snapshot", member.Endpoints[0]);
            }
            output.Flush(flushToDisk: true);
        }
        var actual = sha.GetHashAndReset();
        if (tailLength < 32 || !CryptographicOperations.FixedTimeEquals(actual, tail))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotStreamCorrupted, $"The snapshot stream from {member.Endpoints[0]} ended without a matching SHA-256 ({written} bytes received); nothing was saved.", member.Endpoints[0]);
        }
        return (written, actual);
    }

    /// <summary>Feeds the hash everything except the most recent 32 bytes, which are kept in <paramref name="tail"/>.</summary>
    internal static void HashAllButLast32(IncrementalHash sha, byte[] tail, ref int tailLength, ReadOnlySpan<byte> data)
    {
        var total = tailLength + data.Length;
        if (total <= 32)
        {
            data.CopyTo(tail.AsSpan(tailLength));
            tailLength = total;
            return;
        }
        var toHash = total - 32;
        var fromTail = Math.Min(tailLength, toHash);
        sha.AppendData(tail.AsSpan(0, fromTail));
        var fromData = toHash - fromTail;
        sha.AppendData(data[..fromData]);
        // New tail: what is left of the old tail, then the rest of the data.
        Span<byte> next = stackalloc byte[32];
        var keptTail = tailLength - fromTail;
        tail.AsSpan(fromTail, keptTail).CopyTo(next);
        data[fromData..].CopyTo(next[keptTail..]);
        next.CopyTo(tail);
        tailLength = 32;
    }

    private void TryDelete(string file)
    {
        try { if (File.Exists(file)) File.Delete(file); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { Log.Warning($"Could not delete the incomplete snapshot {file}: {ex.Message}"); }
    }
}
