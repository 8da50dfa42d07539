using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Clusters;
using K3dEtcd.Docker;

// In Members/ with the member service it drives (it kills and restarts members), so the data
// plane (K3dEtcd.Data) never refers back to Docker: no namespace cycle.
namespace K3dEtcd.Members;

/// <summary>How Measure-EtcdFailover runs.</summary>
public sealed record EtcdFailoverOptions
{
    public int Iterations { get; init; } = 3;
    /// <summary>Writes before the kill, so there is something to lose.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Writes after they resumed, so writes through the new leader are checked too.</summary>
    public TimeSpan AfterResume { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Deadline of each put; a put that exceeds it counts as failed, not acknowledged.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long each wait (election, writes resuming, rejoin) may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Key prefix of the sequenced writes; removed afterwards.</summary>
    public string KeyPrefix { get; init; } = $"/k3detcd/failover/{Guid.NewGuid():N}"[..34] + "/";
}

/// <summary>
/// Kills the leader while a writer puts sequenced keys, times the election and the write
/// outage, restarts the old leader, and reads every member's own store to prove that no
/// acknowledged write was lost.
/// </summary>
public sealed class EtcdFailoverService(EtcdMemberService memberService, IOperationLog log)
{

    private const string Activity = "Measuring etcd failover";

    public async IAsyncEnumerable<EtcdFailoverIteration> RunAsync(string clusterName, EtcdFailoverOptions options, [EnumeratorCancellation] CancellationToken ct)
    {
        var members = memberService.With(options.Timeout, TimeSpan.FromMilliseconds(20));
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        EnsureMeasurable(cluster);
        try
        {
            for (var i = 1; i <= options.Iterations; i++)
            {
                yield return await RunIterationAsync(members, clusterName, i, options, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await DeleteKeysAsync(members, clusterName, options.KeyPrefix).ConfigureAwait(false);
            log.Progress(new OperationProgress(Activity, "Done", 100, Completed: true));
        }
    }

    public static EtcdFailoverSummary Summarize(string cluster, IReadOnlyList<EtcdFailoverIteration> runs) => new()
    {
        Cluster = cluster,
        Iterations = runs.Count,
        MedianElectionMs = Median(runs.Select(r => r.ElectionMs)),
        MaxElectionMs = runs.Count == 0 ? 0 : runs.Max(r => r.ElectionMs),
        MedianUnavailableMs = Median(runs.Select(r => r.UnavailableMs)),
        MaxUnavailableMs = runs.Count == 0 ? 0 : runs.Max(r => r.UnavailableMs),
        MedianResumedMs = Median(runs.Select(r => r.ResumedMs)),
        WritesAcknowledged = runs.Sum(r => r.WritesAcknowledged),
        WritesFailed = runs.Sum(r => r.WritesFailed),
        WritesLost = runs.Sum(r => r.WritesLost),
    };

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return 0;
        var mid = sorted.Length / 2;
        return Math.Round(sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, 1);
    }

    /// <summary>A failover needs a leader to kill and a quorum without it: three running members or more.</summary>
    public static void EnsureMeasurable(EtcdCluster cluster)
    {
        if (cluster.Size < 3)
        {
            throw new K3dEtcdException(ErrorCatalog.FailoverNeedsThreeMembers,
                $"Cluster '{cluster.Name}' has {cluster.Size} member{(cluster.Size == 1 ? "" : "s")}; without its leader it would have no quorum. Failover needs 3 or more (Add-EtcdMember).", cluster.Name);
        }
        if (cluster.Members.Where(m => m.State != "running").Select(m => m.Name).ToList() is { Count: > 0 } stopped)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterDegraded,
                $"Member(s) {string.Join(", ", stopped)} of '{cluster.Name}' are not running; start them first (Start-EtcdMember -Cluster {cluster.Name} -All).", cluster.Name);
        }
    }

    private async Task<EtcdFailoverIteration> RunIterationAsync(EtcdMemberService members, string clusterName, int iteration, EtcdFailoverOptions options, CancellationToken ct)
    {
        var status = $"Iteration {iteration}/{options.Iterations}";
        var percent = 100 * (iteration - 1) / options.Iterations;
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        EnsureMeasurable(cluster);
        var prefix = $"{options.KeyPrefix}{iteration.ToString("D3", CultureInfo.InvariantCulture)}/";

        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, options.WriteTimeout), log);
        var clock = Stopwatch.StartNew();
        using var stopWriter = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writer = new SequencedWriter(connection, prefix, clock, options.WriteTimeout);
        var writing = Task.Run(() => writer.RunAsync(stopWriter.Token), CancellationToken.None);
        EtcdClusterMember? killed = null;
        try
        {
            log.Progress(new OperationProgress(Activity, $"{status}: writing before the kill", percent));
            await Task.Delay(options.WarmUp, ct).ConfigureAwait(false);
            if (writer.Acknowledged == 0)
            {
                throw new K3dEtcdException(ErrorCatalog.FailoverWriterFailed,
                    $"No write to '{cluster.Name}' succeeded within {options.WarmUp.TotalSeconds:0.#} s before the kill: {writer.LastError}", cluster.Name);
            }

            // Asked right before the kill: a member that rejoined in the previous iteration may have
            // forced an election since (etcd 3.4 runs without pre-vote by default).
            var leader = await members.FindLeaderAsync(cluster, ct).ConfigureAwait(false);
            log.Progress(new OperationProgress(Activity, $"{status}: killing leader {leader.Name}", percent));
            log.Verbose($"docker kill --signal KILL {leader.ContainerName} (leader)");
            // The signal lands somewhere inside the API call: timing from before it never flatters the election.
            var killedAt = clock.Elapsed;
            killed = leader;
            await (await members.On(leader, ct).ConfigureAwait(false)).KillContainerAsync(leader.ContainerId, ct).ConfigureAwait(false);
            var killReturnedAt = clock.Elapsed;
            log.Verbose($"Killed {leader.Name} (the kill took {(killReturnedAt - killedAt).TotalMilliseconds:0} ms); acknowledged so far: {writer.Acknowledged}.");

            var rest = cluster.Members.Where(m => m.Name != leader.Name && m.ClientUrl is not null).ToList();
            var newLeader = await members.WaitForLeaderAsync(cluster, rest, leader.Id, options.Timeout, $"{Activity}: {status}", ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader,
                    $"After leader {leader.Name} was killed, no new leader of '{cluster.Name}' within {options.Timeout.TotalSeconds:0} s.", cluster.Name);
            var electedAt = clock.Elapsed;
            log.Verbose($"New leader {newLeader.Name} after {(electedAt - killedAt).TotalMilliseconds:0} ms.");

            log.Progress(new OperationProgress(Activity, $"{status}: waiting for writes to resume", percent));
            var resumedAt = await writer.WaitForAckIssuedAfterAsync(killReturnedAt, options.Timeout, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.FailoverWritesDidNotResume,
                    $"Writes to '{cluster.Name}' did not succeed again within {options.Timeout.TotalSeconds:0} s of the leader kill: {writer.LastError}", cluster.Name);
            await Task.Delay(options.AfterResume, ct).ConfigureAwait(false);
            stopWriter.Cancel();
            await writing.ConfigureAwait(false);

            log.Progress(new OperationProgress(Activity, $"{status}: restarting {leader.Name}", percent));
            var rejoin = Stopwatch.StartNew();
            await members.StartMembersAsync(cluster, [leader], ct).ConfigureAwait(false);
            killed = null;
            var rejoinMs = rejoin.Elapsed.TotalMilliseconds;

            log.Progress(new OperationProgress(Activity, $"{status}: reading every member", percent));
            var (lost, checkedMembers) = await CountLostAsync(members, clusterName, prefix, writer.AcknowledgedSequence, ct).ConfigureAwait(false);
            // The window is the longest stretch with no acknowledgement at all; before the kill gaps are milliseconds.
            var ackTimes = writer.Acks.Select(a => a.AckedAt).Order().ToList();
            var window = ackTimes.Zip(ackTimes.Skip(1), (a, b) => b - a).DefaultIfEmpty(TimeSpan.Zero).Max();
            var result = new EtcdFailoverIteration
            {
                Cluster = clusterName,
                Iteration = iteration,
                OldLeader = leader.Name,
                NewLeader = newLeader.Name,
                ElectionMs = Math.Round((electedAt - killedAt).TotalMilliseconds, 1),
                ResumedMs = Math.Round((resumedAt - killedAt).TotalMilliseconds, 1),
                UnavailableMs = Math.Round(window.TotalMilliseconds, 1),
                RejoinMs = Math.Round(rejoinMs, 1),
                WritesAcknowledged = writer.Acknowledged,
                WritesFailed = writer.Failed,
                WritesLost = lost,
                MembersChecked = checkedMembers,
            };
            if (lost > 0) log.Warning($"Iteration {iteration}: {lost} acknowledged writes are missing on at least one member.");
            return result;
        }
        finally
        {
            stopWriter.Cancel();
            try { await writing.ConfigureAwait(false); } catch (OperationCanceledException) { }
            if (killed is not null) await RestartAfterFailureAsync(killed).ConfigureAwait(false);
        }
    }

    /// <summary>A failed or cancelled iteration must not leave the killed leader down.</summary>
    private async Task RestartAfterFailureAsync(EtcdClusterMember member)
    {
        try
        {
            log.Verbose($"docker start {member.ContainerName} (the iteration did not finish)");
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await (await memberService.On(member, cts.Token).ConfigureAwait(false)).StartContainerAsync(member.ContainerId, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerOperationException or OperationCanceledException or HttpRequestException)
        {
            log.Warning($"Member {member.Name} was killed and could not be started again: {ex.Message}. Start it with Start-EtcdMember.");
        }
    }

    /// <summary>
    /// Reads the keys of one iteration from each member's own store (a connection per member,
    /// serializable reads) once the member has caught up; counts acknowledged writes missing anywhere.
    /// </summary>
    private async Task<(int Lost, int Members)> CountLostAsync(EtcdMemberService members, string clusterName, string prefix, IReadOnlyCollection<long> acknowledged, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(10)), log);
        var missing = new HashSet<long>();
        var count = 0;
        foreach (var member in cluster.Members.Where(m => m.ClientUrl is not null))
        {
            await members.WaitForCaughtUpAsync(cluster, member, Activity, ct).ConfigureAwait(false);
            var one = connection.ForEndpoint(member.ClientUrl!);
            var range = await one.CallAsync("range (serializable)", o => one.Grpc.KVClient.RangeAsync(new RangeRequest
            {
                Key = ByteString.CopyFromUtf8(prefix),
                RangeEnd = ByteString.CopyFromUtf8(PrefixEnd(prefix)),
                Serializable = true,
                KeysOnly = true,
            }, o), ct, member.Name, null, mapDeadline: true).ConfigureAwait(false);
            var present = range.Kvs.Select(kv => long.Parse(kv.Key.ToStringUtf8()[prefix.Length..], CultureInfo.InvariantCulture)).ToHashSet();
            var gone = acknowledged.Where(s => !present.Contains(s)).ToList();
            if (gone.Count > 0) log.Verbose($"Member {member.Name} lacks {gone.Count} acknowledged writes (first: {gone[0]}).");
            missing.UnionWith(gone);
            count++;
        }
        return (missing.Count, count);
    }

    private async Task DeleteKeysAsync(EtcdMemberService members, string clusterName, string prefix)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var cluster = await members.GetClusterAsync(clusterName, cts.Token).ConfigureAwait(false);
            if (cluster.Endpoints.Length == 0) return;
            using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(10)), log);
            log.Verbose($"etcd: del --prefix {prefix}");
            await connection.CallAsync("delete", o => connection.Grpc.KVClient.DeleteRangeAsync(new DeleteRangeRequest
            {
                Key = ByteString.CopyFromUtf8(prefix),
                RangeEnd = ByteString.CopyFromUtf8(PrefixEnd(prefix)),
            }, o), cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or DockerOperationException or OperationCanceledException)
        {
            log.Warning($"The measurement keys under {prefix} could not be removed: {ex.Message}");
        }
    }

    internal static string PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        bytes[^1]++;
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Puts /prefix/00000001, /prefix/00000002, ... and records which were acknowledged when.</summary>
    private sealed class SequencedWriter(EtcdConnection connection, string prefix, Stopwatch clock, TimeSpan writeTimeout)
    {
        private readonly List<(long Seq, TimeSpan IssuedAt, TimeSpan AckedAt)> _acks = [];
        private readonly object _gate = new();
        private int _failed;

        public int Acknowledged { get { lock (_gate) return _acks.Count; } }
        public int Failed => Volatile.Read(ref _failed);
        public string? LastError { get; private set; }
        public IReadOnlyList<(long Seq, TimeSpan IssuedAt, TimeSpan AckedAt)> Acks { get { lock (_gate) return _acks.ToList(); } }
        public IReadOnlyCollection<long> AcknowledgedSequence { get { lock (_gate) return _acks.Select(a => a.Seq).ToList(); } }

        private long _next;

        /// <summary>
        /// Several writers share one sequence: a put stuck on the killed member until its deadline
        /// must not hide that the others already succeed through the new leader.
        /// </summary>
        public Task RunAsync(CancellationToken stop) =>
            Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(() => WriteLoopAsync(stop), CancellationToken.None)));

        public const int Writers = 4;

        private async Task WriteLoopAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var seq = Interlocked.Increment(ref _next);
                var key = prefix + seq.ToString("D8", CultureInfo.InvariantCulture);
                var issued = clock.Elapsed;
                try
                {
                    // The deadline, not the stop token, ends a put: a put cut short by the stop is neither acked nor failed.
                    await connection.CallAsync("put", o => connection.Grpc.KVClient.PutAsync(new PutRequest
                    {
                        Key = ByteString.CopyFromUtf8(key),
                        Value = ByteString.CopyFromUtf8(seq.ToString(CultureInfo.InvariantCulture)),
                    }, o), CancellationToken.None, key, writeTimeout, mapDeadline: true).ConfigureAwait(false);
                    lock (_gate) _acks.Add((seq, issued, clock.Elapsed));
                }
                catch (K3dEtcdException ex)
                {
                    Interlocked.Increment(ref _failed);
                    LastError = ex.Message;
                    // A dead endpoint fails at once; do not spin while the channel notices.
                    try { await Task.Delay(10, stop).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                }
            }
        }

        /// <summary>When the first write issued after <paramref name="after"/> was acknowledged; null if none in time.</summary>
        public async Task<TimeSpan?> WaitForAckIssuedAfterAsync(TimeSpan after, TimeSpan timeout, CancellationToken ct)
        {
            var until = clock.Elapsed + timeout;
            while (clock.Elapsed < until)
            {
                lock (_gate)
                {
                    foreach (var a in _acks)
                    {
                        if (a.IssuedAt >= after) return a.AckedAt;
                    }
                }
                await Task.Delay(10, ct).ConfigureAwait(false);
            }
            return null;
        }
    }
}
