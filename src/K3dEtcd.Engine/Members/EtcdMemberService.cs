using System.Diagnostics;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Clusters;
using K3dEtcd.Docker;

namespace K3dEtcd.Members;

/// <summary>What happened when a member was stopped.</summary>
public sealed record MemberStopResult(EtcdClusterMember Member, bool WasLeader, TimeSpan StoppedAfter, string? NewLeaderId, TimeSpan? LeaderAfter);

/// <summary>
/// Stops, starts and restarts the member containers of a cluster and waits for the state that
/// follows (stopped and, with a quorum left, a leader; or healthy and caught up). Docker is the
/// source of truth for members; etcd's own view comes from the HTTP probe.
/// </summary>
public sealed partial class EtcdMemberService
{
    private const string Running = "running";
    private readonly DockerAdapter _docker;
    private readonly IOperationLog _log;
    private readonly EtcdClusterService _clusters;

    /// <summary>
    /// Gets what it works with: the cluster service (reading clusters, creating member containers,
    /// roll-back) and its Docker adapter. <see cref="Services.EtcdServices"/> wires them for a Docker engine.
    /// </summary>
    public EtcdMemberService(EtcdClusterService clusters, IOperationLog log)
    {
        _clusters = clusters;
        _docker = clusters.Docker;
        _log = log;
    }

    /// <summary>The adapter of the engine the member lives on.</summary>
    internal Task<DockerAdapter> On(EtcdClusterMember member, CancellationToken ct) => _docker.ForEngineAsync(member.Engine, ct);

    /// <summary>The same service with other waits (Measure-EtcdFailover polls faster).</summary>
    public EtcdMemberService With(TimeSpan timeout, TimeSpan pollInterval) => new(_clusters, _log) { Timeout = timeout, PollInterval = pollInterval };

    /// <summary>How long a wait (container stopped, leader elected, member caught up) may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often etcd is asked while waiting; short, because failover times are measured with it.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>SIGTERM grace period before Docker sends SIGKILL.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    public static int Quorum(int members) => members / 2 + 1;

    internal EtcdClusterService Clusters => _clusters;

    internal DockerAdapter Docker => _docker;

    // ---------------------------------------------------------------- lookups

    public Task<EtcdCluster> GetClusterAsync(string name, CancellationToken ct) => _clusters.ResolveAsync(name, ct);

    /// <summary>Finds a member by name (= container name) or by its hex ID.</summary>
    public static EtcdClusterMember ResolveMember(EtcdCluster cluster, string name) =>
        cluster.Members.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)
            || string.Equals(m.ContainerName, name, StringComparison.OrdinalIgnoreCase)
            || (m.Id.Length > 0 && string.Equals(m.Id, name, StringComparison.OrdinalIgnoreCase)))
        ?? throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound,
            $"Cluster '{cluster.Name}' has no member named '{name}'; its members are {string.Join(", ", cluster.Members.Select(m => m.Name))}.", name);

    /// <summary>A member whose engine does not answer cannot be stopped, started or removed: say so instead of acting on nothing.</summary>
    internal static EtcdClusterMember Reachable(EtcdClusterMember member) =>
        member.State == ClusterModel.UnreachableState
            ? throw new K3dEtcdException(ErrorCatalog.DockerEngineUnreachable, $"Member {member.Name} cannot be changed: {member.StateReason}.", member.Engine ?? member.Name)
            : member;

    /// <summary>
    /// The current leader, as the leader itself reports it (a member whose status names itself).
    /// Waits a little because a leader may be in the middle of an election.
    /// </summary>
    public async Task<EtcdClusterMember> FindLeaderAsync(EtcdCluster cluster, CancellationToken ct)
    {
        var running = cluster.Members.Where(m => m.State == Running && m.ClientUrl is not null).ToList();
        if (running.Count == 0)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterStopped,
                $"No member of cluster '{cluster.Name}' is running, so it has no leader. Start its members first (Start-EtcdMember -Cluster {cluster.Name} -All).", cluster.Name);
        }
        var wait = Timeout < TimeSpan.FromSeconds(15) ? Timeout : TimeSpan.FromSeconds(15);
        var leader = await WaitForLeaderAsync(cluster, running, excludedId: null, wait, $"Finding the leader of '{cluster.Name}'", ct).ConfigureAwait(false);
        return leader ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader,
            $"Cluster '{cluster.Name}' has no leader: {running.Count} of {cluster.Size} members are running and {Quorum(cluster.Size)} are needed for a quorum.", cluster.Name);
    }

    /// <summary>Refuses a change that would leave fewer running members than a quorum.</summary>
    public static void EnsureQuorumKept(EtcdCluster cluster, IReadOnlyCollection<EtcdClusterMember> stopping, string action)
    {
        var names = stopping.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var runningAfter = cluster.Members.Count(m => m.State == Running && !names.Contains(m.Name));
        var quorum = Quorum(cluster.Size);
        if (runningAfter < quorum)
        {
            throw new K3dEtcdException(ErrorCatalog.QuorumLoss,
                $"{action} {string.Join(", ", names)} would leave {runningAfter} of {cluster.Size} members of '{cluster.Name}' running; " +
                $"etcd needs {quorum} for a quorum, so the cluster would stop serving. Nothing was changed; use -Force to do it anyway.", cluster.Name);
        }
    }

    // ---------------------------------------------------------------- stop

    public async Task<MemberStopResult> StopMemberAsync(EtcdCluster cluster, EtcdClusterMember member, bool kill, CancellationToken ct)
    {
        var activity = $"Stopping etcd member {member.Name}";
        var clock = Stopwatch.StartNew();
        var current = Reachable(ResolveMember(await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false), member.Name));
        if (current.State != Running)
        {
            _log.Verbose($"Member {member.Name} is already stopped ({current.State}).");
            return new MemberStopResult(current, false, TimeSpan.Zero, null, null);
        }

        using var http = ProbeHttp.For(cluster);
        var probe = http.Probe;
        var before = current.ClientUrl is null ? null : await probe.GetStatusAsync(current.ClientUrl, ct).ConfigureAwait(false);
        var wasLeader = before?.LeaderId is { } l && l == before.MemberId;

        _log.Progress(new OperationProgress(activity, kill ? "Sending SIGKILL" : "Stopping (SIGTERM)", 10));
        try
        {
            if (kill)
            {
                _log.Verbose($"docker kill --signal KILL {current.ContainerName}");
                await (await On(current, ct).ConfigureAwait(false)).KillContainerAsync(current.ContainerId, ct).ConfigureAwait(false);
            }
            else
            {
                _log.Verbose($"docker stop --time {StopGrace.TotalSeconds:0} {current.ContainerName}");
                await (await On(current, ct).ConfigureAwait(false)).StopContainerAsync(current.ContainerId, StopGrace, ct).ConfigureAwait(false);
            }
        }
        catch (DockerOperationException ex) when (ex.IsConflict)
        {
            // "is not running": it stopped on its own in the meantime; the wait below confirms it.
            _log.Verbose($"Member {member.Name}: {ex.DockerMessage}");
        }
        await WaitUntilAsync(async t => !(await (await On(current, t).ConfigureAwait(false)).InspectContainerAsync(current.ContainerId, t).ConfigureAwait(false)).Running,
            ErrorCatalog.MemberStopTimeout, $"Member {member.Name} did not stop", activity, "Waiting for the container to stop", ct).ConfigureAwait(false);
        var stoppedAfter = clock.Elapsed;
        _log.Verbose($"Member {member.Name} stopped after {stoppedAfter.TotalMilliseconds:0} ms{(wasLeader ? " (it was the leader)" : "")}.");

        // With a quorum left, wait for a leader among the others so the next command finds one.
        var after = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var rest = after.Members.Where(m => m.State == Running && m.ClientUrl is not null).ToList();
        string? newLeader = null;
        TimeSpan? leaderAfter = null;
        if (rest.Count >= Quorum(after.Size))
        {
            var leader = await WaitForLeaderAsync(after, rest, current.Id, Timeout, activity, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader,
                    $"After {member.Name} stopped, the other {rest.Count} members of '{cluster.Name}' elected no leader within {Timeout.TotalSeconds:0} s.", cluster.Name);
            newLeader = leader.Id;
            leaderAfter = clock.Elapsed;
            _log.Verbose($"Leader of '{cluster.Name}': {leader.Name} ({leader.Id}), seen {leaderAfter.Value.TotalMilliseconds:0} ms after the stop began.");
        }
        else
        {
            _log.Warning($"Only {rest.Count} of {after.Size} members of '{cluster.Name}' are running; without {Quorum(after.Size)} the cluster has no quorum and does not serve.");
        }
        _log.Progress(new OperationProgress(activity, "Stopped", 100, Completed: true));
        return new MemberStopResult(ResolveMember(after, member.Name), wasLeader, stoppedAfter, newLeader, leaderAfter);
    }

    // ---------------------------------------------------------------- start

    /// <summary>
    /// Starts members (all containers first, so a stopped cluster regains its quorum) and, when a
    /// quorum is running, waits until each is healthy and caught up.
    /// </summary>
    public async Task<IReadOnlyList<EtcdClusterMember>> StartMembersAsync(EtcdCluster cluster, IReadOnlyList<EtcdClusterMember> members, CancellationToken ct)
    {
        var activity = $"Starting etcd member{(members.Count == 1 ? "" : "s")} {string.Join(", ", members.Select(m => m.Name))}";
        var before = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        foreach (var member in members)
        {
            var current = Reachable(ResolveMember(before, member.Name));
            if (current.State == Running)
            {
                _log.Verbose($"Member {member.Name} is already running.");
                continue;
            }
            _log.Progress(new OperationProgress(activity, $"Starting the container {current.ContainerName}", 10));
            _log.Verbose($"docker start {current.ContainerName}");
            try
            {
                await (await On(current, ct).ConfigureAwait(false)).StartContainerAsync(current.ContainerId, ct).ConfigureAwait(false);
            }
            catch (DockerOperationException ex)
            {
                throw new K3dEtcdException(ErrorCatalog.MemberStartFailed,
                    $"Member {member.Name} could not start: {ex.DockerMessage}", member.Name, ex);
            }
        }

        // The published port is chosen again at each start: read the members back.
        var after = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var running = after.Members.Count(m => m.State == Running);
        if (running < Quorum(after.Size))
        {
            _log.Warning($"Only {running} of {after.Size} members of '{cluster.Name}' are running: they serve once {Quorum(after.Size)} run.");
        }
        else
        {
            foreach (var member in members)
            {
                await WaitForCaughtUpAsync(after, ResolveMember(after, member.Name), activity, ct).ConfigureAwait(false);
            }
        }
        _log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        var final = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        return members.Select(m => ResolveMember(final, m.Name)).ToList();
    }

    /// <summary>
    /// Waits until a member answers /health, knows a leader, and has applied at least the
    /// revision the leader had when the wait began (so writes made while it was away are there).
    /// </summary>
    public async Task WaitForCaughtUpAsync(EtcdCluster cluster, EtcdClusterMember member, string activity, CancellationToken ct, bool requireHealth = true)
    {
        if (member.ClientUrl is null)
        {
            throw new K3dEtcdException(ErrorCatalog.MemberNotRunning, $"Member {member.Name} is not running.", member.Name);
        }
        using var http = ProbeHttp.For(cluster);
        var probe = http.Probe;
        long? target = null;
        var status = "Waiting for the member to answer";
        await WaitUntilAsync(async t =>
        {
            var runtime = await On(member, t).ConfigureAwait(false);
            var inspect = await runtime.InspectContainerAsync(member.ContainerId, t).ConfigureAwait(false);
            if (!inspect.Running)
            {
                var logs = await runtime.TailLogsAsync(member.ContainerName, 12).ConfigureAwait(false);
                throw new K3dEtcdException(ErrorCatalog.MemberExited,
                    $"Member {member.Name} exited (code {inspect.ExitCode}) while rejoining the cluster.{(logs.Length > 0 ? $"{Environment.NewLine}Last log lines:{Environment.NewLine}{logs}" : "")}", member.Name);
            }
            var own = await probe.GetStatusAsync(member.ClientUrl, t).ConfigureAwait(false);
            if (own?.LeaderId is null) { status = "Waiting for the member to find the leader"; return false; }
            if (target is null)
            {
                var leader = cluster.Members.FirstOrDefault(m => m.Id == own.LeaderId && m.ClientUrl is not null);
                var leaderStatus = leader is null || leader.Name == member.Name ? own : await probe.GetStatusAsync(leader.ClientUrl!, t).ConfigureAwait(false);
                if (leaderStatus is null) { status = "Asking the leader for its revision"; return false; }
                target = leaderStatus.Revision;
            }
            if (own.Revision < target) { status = $"Catching up: revision {own.Revision} of {target}"; return false; }
            if (!requireHealth) return true;
            status = "Waiting for /health";
            return await probe.IsHealthyAsync(member.ClientUrl, t).ConfigureAwait(false);
        }, ErrorCatalog.MemberCatchUpTimeout, $"Member {member.Name} did not become healthy and caught up", activity, () => status, ct).ConfigureAwait(false);
        _log.Verbose($"Member {member.Name} is healthy and at revision {target} or later.");
    }

    /// <summary>
    /// Polls the given members until one reports itself as leader (and is not <paramref name="excludedId"/>);
    /// null when none does within <paramref name="wait"/>.
    /// </summary>
    internal async Task<EtcdClusterMember?> WaitForLeaderAsync(EtcdCluster cluster, IReadOnlyList<EtcdClusterMember> ask, string? excludedId, TimeSpan wait,
        string activity, CancellationToken ct)
    {
        using var http = ProbeHttp.For(cluster);
        var probe = http.Probe;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(wait);
        var clock = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                var statuses = await Task.WhenAll(ask.Select(m => probe.GetStatusAsync(m.ClientUrl!, deadline.Token))).ConfigureAwait(false);
                var self = statuses.FirstOrDefault(s => s?.LeaderId is { } l && l == s.MemberId && l != excludedId);
                if (self is not null && cluster.Members.FirstOrDefault(m => m.Id == self.LeaderId) is { } leader)
                {
                    return leader;
                }
                _log.Progress(new OperationProgress(activity, $"Waiting for a leader ({clock.Elapsed.TotalSeconds:0.0} s)", -1));
                await Task.Delay(PollInterval, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// The probe's HTTP client: plain for a plain cluster; with the cluster's CA and client
    /// certificate (from the data plane's connection) when the cluster has TLS material.
    /// </summary>
    private sealed class ProbeHttp : IDisposable
    {
        private readonly HttpClient? _own;
        private readonly EtcdConnection? _connection;

        private ProbeHttp(HttpClient? own, EtcdConnection? connection)
        {
            _own = own;
            _connection = connection;
            Probe = new EtcdHttpProbe(own ?? connection!.Http);
        }

        public EtcdHttpProbe Probe { get; }

        public static ProbeHttp For(EtcdCluster cluster)
        {
            var timeout = TimeSpan.FromSeconds(2);
            if (cluster.Tls is null) return new ProbeHttp(new HttpClient { Timeout = timeout }, null);
            var options = new EtcdConnectionOptions
            {
                Endpoints = cluster.Endpoints.Length > 0 ? cluster.Endpoints : ["https://127.0.0.1:2379"],
                CaFile = string.IsNullOrEmpty(cluster.Tls.CaFile) ? null : cluster.Tls.CaFile,
                CertFile = string.IsNullOrEmpty(cluster.Tls.ClientCertFile) ? null : cluster.Tls.ClientCertFile,
                KeyFile = string.IsNullOrEmpty(cluster.Tls.ClientKeyFile) ? null : cluster.Tls.ClientKeyFile,
                Timeout = timeout,
            };
            return new ProbeHttp(null, EtcdConnection.Open(options));
        }

        public void Dispose()
        {
            _own?.Dispose();
            _connection?.Dispose();
        }
    }

    private Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, ErrorDefinition error, string what, string activity, string status, CancellationToken ct) =>
        WaitUntilAsync(condition, error, what, activity, () => status, ct);

    private async Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, ErrorDefinition error, string what, string activity, Func<string> status, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        var clock = Stopwatch.StartNew();
        try
        {
            while (!await condition(deadline.Token).ConfigureAwait(false))
            {
                _log.Progress(new OperationProgress(activity, $"{status()} ({clock.Elapsed.TotalSeconds:0.0} s)",
                    (int)Math.Min(99, 100 * clock.Elapsed.TotalSeconds / Timeout.TotalSeconds)));
                await Task.Delay(PollInterval * 4, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(error, $"{what} within {Timeout.TotalSeconds:0} s ({status()}).", activity);
        }
    }
}
