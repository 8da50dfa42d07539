using System.Diagnostics;
using System.Globalization;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

/// <summary>
/// Day-2 maintenance over the v3 API: alarms, compaction, defragmentation member by member,
/// the NOSPACE recovery that chains them, leader moves and HashKV consistency checks.
/// <paramref name="hostEndpoints"/> maps member names to the URL this host reaches them at
/// (null: container not running), as for <see cref="EtcdClusterStatusService"/>.
/// </summary>
public sealed class EtcdMaintenanceService(EtcdConnection connection, IReadOnlyDictionary<string, string?>? hostEndpoints, string? clusterName)
{
    private IOperationLog Log => connection.Log;
    private EtcdClusterStatusService Status => new(connection);
    /// <summary>Defragmentation and physical compaction take seconds per GB: a deadline of their own.</summary>
    private TimeSpan LongTimeout => connection.Options.Timeout > TimeSpan.FromMinutes(5) ? connection.Options.Timeout : TimeSpan.FromMinutes(5);

    // ---------------------------------------------------------------- alarms

    public async Task<IReadOnlyList<EtcdAlarm>> GetAlarmsAsync(CancellationToken ct)
    {
        Log.Verbose($"etcd: alarm list from {string.Join(',', connection.Endpoints)}.");
        var response = await connection.CallAsync("alarm list",
            o => connection.Grpc.MaintenanceClient.AlarmAsync(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get }, o), ct, null, null, mapDeadline: true).ConfigureAwait(false);
        if (response.Alarms.Count == 0) return [];
        var names = await MemberNamesAsync(ct).ConfigureAwait(false);
        return response.Alarms.Where(a => a.Alarm != AlarmType.None).Select(a => new EtcdAlarm
        {
            Cluster = clusterName,
            MemberId = Hex(a.MemberID),
            MemberName = names.TryGetValue(a.MemberID, out var n) ? n : null,
            Alarm = a.Alarm.ToString().ToUpperInvariant(),
        }).OrderBy(a => a.MemberName ?? a.MemberId, StringComparer.Ordinal).ToList();
    }

    /// <summary>Disarms the given alarms (all NOSPACE and CORRUPT ones listed when null); returns those disarmed.</summary>
    public async Task<IReadOnlyList<EtcdAlarm>> ClearAlarmsAsync(IReadOnlyList<EtcdAlarm> alarms, CancellationToken ct)
    {
        var cleared = new List<EtcdAlarm>();
        foreach (var alarm in alarms)
        {
            var type = Enum.Parse<AlarmType>(alarm.Alarm, ignoreCase: true);
            Log.Verbose($"etcd: alarm deactivate {alarm.Alarm} of member {alarm.MemberName ?? alarm.MemberId}.");
            await connection.CallAsync("alarm deactivate", o => connection.Grpc.MaintenanceClient.AlarmAsync(new AlarmRequest
            {
                Action = AlarmRequest.Types.AlarmAction.Deactivate,
                MemberID = ulong.Parse(alarm.MemberId, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                Alarm = type,
            }, o), ct, alarm.MemberName ?? alarm.MemberId, null, mapDeadline: true).ConfigureAwait(false);
            cleared.Add(alarm);
        }
        return cleared;
    }

    // ---------------------------------------------------------------- compaction

    /// <summary>The cluster's current revision, read linearizably.</summary>
    public async Task<long> GetRevisionAsync(CancellationToken ct)
    {
        var r = await connection.CallAsync("range", o => connection.Grpc.KVClient.RangeAsync(
            new RangeRequest { Key = ByteString.CopyFrom(0), CountOnly = true }, o), ct, null, null, mapDeadline: true).ConfigureAwait(false);
        return r.Header.Revision;
    }

    /// <summary>Compacts to <paramref name="revision"/>, or to the current revision minus <paramref name="keepRevisions"/>.</summary>
    public async Task<EtcdCompaction> CompactAsync(long? revision, long? keepRevisions, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var current = await GetRevisionAsync(ct).ConfigureAwait(false);
        var target = revision ?? current - (keepRevisions ?? 0);
        if (revision is { } r && r > current)
        {
            throw new K3dEtcdException(ErrorCatalog.CompactionRevisionInFuture, $"Revision {r} is past the cluster's current revision {current}; compact to {current} or less.", r);
        }
        if (target < 1)
        {
            Log.Verbose($"Nothing to compact: keeping {keepRevisions} revisions of {current}.");
            return new EtcdCompaction { Cluster = clusterName, Revision = 0, CurrentRevision = current, Compacted = false, Took = sw.Elapsed };
        }
        Log.Progress(new OperationProgress("Compacting etcd", $"to revision {target} (current {current})", -1, ActivityId: 3));
        try
        {
            Log.Verbose($"etcd: compact to revision {target} (physical).");
            // Physical: return only when the old revisions are gone from the backend, so a following defragmentation frees their space.
            await connection.CallAsync("compact", o => connection.Grpc.KVClient.CompactAsync(new CompactionRequest { Revision = target, Physical = true }, o),
                ct, target, LongTimeout, mapDeadline: true).ConfigureAwait(false);
            return new EtcdCompaction { Cluster = clusterName, Revision = target, CurrentRevision = current, Compacted = true, Took = sw.Elapsed };
        }
        catch (K3dEtcdException ex) when (ex.Message.Contains("required revision has been compacted", StringComparison.Ordinal))
        {
            Log.Verbose($"Revision {target} is already compacted; nothing to do.");
            return new EtcdCompaction { Cluster = clusterName, Revision = target, CurrentRevision = current, Compacted = false, Took = sw.Elapsed };
        }
        finally
        {
            Log.Progress(new OperationProgress("Compacting etcd", "Done", 100, ActivityId: 3, Completed: true));
        }
    }

    // ---------------------------------------------------------------- defragmentation

    /// <summary>
    /// Defragments members one at a time, followers first and the leader last. Before each, the
    /// members are asked again: a member is defragmented only when the others still make a
    /// healthy quorum without it (a defragmenting member answers nothing), unless
    /// <paramref name="allowUnavailability"/> (the only way on a one-member cluster).
    /// </summary>
    public async Task<IReadOnlyList<EtcdDefragmentation>> DefragmentAsync(IReadOnlyCollection<string>? memberNames, bool allowUnavailability, CancellationToken ct)
    {
        const string activity = "Defragmenting etcd members";
        var members = await Status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        if (memberNames is { Count: > 0 })
        {
            foreach (var n in memberNames.Where(n => !members.Any(m => m.Name == n || m.Id == n)))
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound, $"No member named '{n}' in {clusterName ?? string.Join(',', connection.Endpoints)} (members: {string.Join(", ", members.Select(m => m.Name))}).", n);
            }
        }
        var order = members.Where(m => memberNames is not { Count: > 0 } || memberNames.Contains(m.Name) || memberNames.Contains(m.Id))
            .OrderBy(m => m.IsLeader).ThenBy(m => m.Name, StringComparer.Ordinal).Select(m => m.Id).ToList();
        var results = new List<EtcdDefragmentation>();
        for (var i = 0; i < order.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            // Fresh state for every member: the previous one must be back before the next goes away.
            var now = i == 0 ? members : await Status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
            var m = now.First(x => x.Id == order[i]);
            Log.Progress(new OperationProgress(activity, $"{m.Name} ({i + 1}/{order.Count})", 100 * i / order.Count, ActivityId: 4));
            // A NOSPACE member is "unhealthy" for writes but still answers and votes: it is the one to defragment.
            if (m.Endpoint is null || m.LeaderId is null)
            {
                throw new K3dEtcdException(ErrorCatalog.DefragmentationMemberUnavailable, $"Member {m.Name} cannot be defragmented: {m.Error ?? "it is not reachable from here"}.", m.Name);
            }
            var voters = now.Where(x => !x.IsLearner).ToList();
            var quorum = voters.Count / 2 + 1;
            var othersUp = voters.Count(x => x.Id != m.Id && x.Endpoint is not null && x.LeaderId is not null);
            if (!m.IsLearner && othersUp < quorum && !allowUnavailability)
            {
                throw new K3dEtcdException(ErrorCatalog.DefragmentationWouldBreakQuorum, $"Defragmenting {m.Name} would leave {othersUp} of {voters.Count} voting members serving, short of the quorum of {quorum}: the cluster would stop answering while it runs. Start the stopped members first{(voters.Count == 1 ? ", or pass -Force to accept that a one-member cluster pauses" : "")}.", m.Name);
            }
            results.Add(await DefragmentMemberAsync(m, ct).ConfigureAwait(false));
        }
        Log.Progress(new OperationProgress(activity, "Done", 100, ActivityId: 4, Completed: true));
        return results;
    }

    private async Task<EtcdDefragmentation> DefragmentMemberAsync(EtcdMemberStatus m, CancellationToken ct)
    {
        var member = connection.ForEndpoint(m.Endpoint!);
        var sw = Stopwatch.StartNew();
        Log.Verbose($"etcd: defragment {m.Name} at {m.Endpoint} ({m.DbSize} bytes).");
        await member.CallAsync("defragment", o => member.Grpc.MaintenanceClient.DefragmentAsync(new DefragmentRequest(), o),
            ct, m.Name, LongTimeout, mapDeadline: true).ConfigureAwait(false);
        var took = sw.Elapsed;
        var after = await member.CallAsync("status", o => member.Grpc.MaintenanceClient.StatusAsync(new StatusRequest(), o), ct, m.Name, null, mapDeadline: true).ConfigureAwait(false);
        Log.Verbose($"etcd: {m.Name} defragmented in {took.TotalSeconds:0.00} s: {m.DbSize} -> {after.DbSize} bytes.");
        return new EtcdDefragmentation
        {
            Cluster = clusterName, Member = m.Name, MemberId = m.Id, Endpoint = m.Endpoint,
            DbSizeBefore = m.DbSize ?? 0, DbSizeAfter = after.DbSize, DbSizeInUse = after.DbSizeInUse, Took = took,
        };
    }

    /// <summary>
    /// The NOSPACE way out: compact, defragment every member one at a time, then disarm the
    /// NOSPACE alarms (CORRUPT alarms are left: they need a human).
    /// </summary>
    public async Task<EtcdOptimization> OptimizeAsync(long keepRevisions, bool allowUnavailability, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var compaction = await CompactAsync(null, keepRevisions, ct).ConfigureAwait(false);
        var defrags = await DefragmentAsync(null, allowUnavailability, ct).ConfigureAwait(false);
        var nospace = (await GetAlarmsAsync(ct).ConfigureAwait(false)).Where(a => a.Alarm == "NOSPACE").ToList();
        var cleared = await ClearAlarmsAsync(nospace, ct).ConfigureAwait(false);
        foreach (var corrupt in (await GetAlarmsAsync(ct).ConfigureAwait(false)).Where(a => a.Alarm == "CORRUPT"))
        {
            Log.Warning($"Member {corrupt.MemberName ?? corrupt.MemberId} has a CORRUPT alarm: its data differs from the others'. Check Test-EtcdCluster -Consistency; the alarm was left in place.");
        }
        return new EtcdOptimization { Cluster = clusterName, Compaction = compaction, Defragmentations = [.. defrags], AlarmsCleared = [.. cleared], Took = sw.Elapsed };
    }

    // ---------------------------------------------------------------- leader

    /// <summary>Moves leadership to the member named (or with the ID) <paramref name="target"/>; returns its status as leader.</summary>
    public async Task<EtcdMemberStatus> MoveLeaderAsync(string target, TimeSpan timeout, CancellationToken ct)
    {
        var members = await Status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        var to = members.FirstOrDefault(m => m.Name == target) ?? members.FirstOrDefault(m => string.Equals(m.Id, target, StringComparison.OrdinalIgnoreCase))
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdMemberNotFound, $"No member named '{target}' in {clusterName ?? string.Join(',', connection.Endpoints)} (members: {string.Join(", ", members.Select(m => m.Name))}).", target);
        if (to.IsLearner)
        {
            throw new K3dEtcdException(ErrorCatalog.MoveLeaderTargetIsLearner, $"Member {to.Name} is a learner; only a voting member can lead.", to.Name);
        }
        if (!to.Healthy)
        {
            throw new K3dEtcdException(ErrorCatalog.MoveLeaderTargetUnavailable, $"Member {to.Name} cannot take the lead: {to.Error ?? "it is not healthy"}.", to.Name);
        }
        if (to.IsLeader)
        {
            Log.Verbose($"{to.Name} already leads.");
            return to;
        }
        var leader = members.FirstOrDefault(m => m.IsLeader && m.Endpoint is not null)
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader, "No reachable member leads the cluster now; nothing to move.", clusterName);
        // MoveLeader must be sent to the current leader.
        var via = connection.ForEndpoint(leader.Endpoint!);
        Log.Verbose($"etcd: move leader from {leader.Name} to {to.Name} (sent to {leader.Endpoint}).");
        await via.CallAsync("move leader", o => via.Grpc.MaintenanceClient.MoveLeaderAsync(
            new MoveLeaderRequest { TargetID = ulong.Parse(to.Id, NumberStyles.HexNumber, CultureInfo.InvariantCulture) }, o), ct, to.Name, null, mapDeadline: true).ConfigureAwait(false);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var now = await Status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
            if (now.FirstOrDefault(m => m.Id == to.Id) is { IsLeader: true, Healthy: true } led) return led;
            if (deadline.Elapsed > timeout)
            {
                throw new K3dEtcdException(ErrorCatalog.MoveLeaderTimeout, $"etcd accepted the move, but {to.Name} does not report itself healthy and leading after {timeout.TotalSeconds:0} s.", to.Name);
            }
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- consistency

    /// <summary>
    /// HashKV of every member at one revision (the current one, read linearizably). Equal hashes
    /// mean equal key spaces; a member that differs from the majority or cannot answer is shown
    /// as not consistent, never left out.
    /// </summary>
    public async Task<IReadOnlyList<EtcdMemberHash>> HashAllAsync(CancellationToken ct)
    {
        var members = await Status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        var revision = await GetRevisionAsync(ct).ConfigureAwait(false);
        var answers = await Task.WhenAll(members.Select(m => HashOneAsync(m, revision, ct))).ConfigureAwait(false);
        var groups = answers.Where(a => a.Hash is not null).GroupBy(a => a.Hash!.Value).OrderByDescending(g => g.Count()).ToList();
        // The reference is the hash a strict majority of all members agree on; without one nobody is "consistent".
        uint? reference = groups.Count > 0 && groups[0].Count() > members.Count / 2 ? groups[0].Key : null;
        return answers.Select(a => new EtcdMemberHash
        {
            Name = a.Name, Id = a.Id, Endpoint = a.Endpoint, Revision = revision, Hash = a.Hash, CompactRevision = a.CompactRevision,
            Consistent = a.Hash is { } h && reference == h,
            Error = a.Error ?? (a.Hash is { } x && reference is { } r && x != r ? $"hash {x:x8} differs from the majority's {r:x8}"
                : a.Hash is not null && reference is null ? "no majority of members agrees on one hash" : null),
        }).OrderBy(a => a.Name, StringComparer.Ordinal).ToList();
    }

    private async Task<EtcdMemberHash> HashOneAsync(EtcdMemberStatus m, long revision, CancellationToken ct)
    {
        if (m.Endpoint is null)
        {
            return new EtcdMemberHash { Name = m.Name, Id = m.Id, Revision = revision, Error = m.Error ?? "not reachable from here" };
        }
        var member = connection.ForEndpoint(m.Endpoint);
        var sw = Stopwatch.StartNew();
        // etcd refuses HashKV at exactly the compact revision; right after compacting to the current
        // revision the only way to hash it is "the member's current revision" (0), checked to be ours.
        var ask = revision;
        while (true)
        {
            try
            {
                Log.Verbose($"etcd: hashkv at revision {(ask == 0 ? $"{revision} (current)" : ask)} on {m.Name}.");
                var r = await member.CallAsync("hashkv", o => member.Grpc.MaintenanceClient.HashKVAsync(new HashKVRequest { Revision = ask }, o),
                    ct, m.Name, LongTimeout, mapDeadline: true).ConfigureAwait(false);
                if (ask == 0 && r.Header.Revision != revision)
                {
                    if (sw.Elapsed < TimeSpan.FromSeconds(5)) { await Task.Delay(100, ct).ConfigureAwait(false); continue; }
                    return new EtcdMemberHash { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Revision = revision,
                        Error = $"the member is at revision {r.Header.Revision}, not {revision}, so its hash cannot be compared" };
                }
                return new EtcdMemberHash { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Revision = revision, Hash = r.Hash, CompactRevision = r.CompactRevision };
            }
            catch (K3dEtcdException ex) when (ask != 0 && ex.Message.Contains("required revision has been compacted", StringComparison.Ordinal))
            {
                ask = 0;
            }
            catch (K3dEtcdException ex) when (ex.Message.Contains("future revision", StringComparison.Ordinal) && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                // A follower that has not applied the revision yet: give it a moment to catch up.
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            catch (K3dEtcdException ex)
            {
                return new EtcdMemberHash { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Revision = revision, Error = ex.Message };
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private async Task<Dictionary<ulong, string>> MemberNamesAsync(CancellationToken ct)
    {
        var list = await connection.CallAsync("member list", o => connection.Grpc.ClusterClient.MemberListAsync(new MemberListRequest(), o), ct, null, null, mapDeadline: true).ConfigureAwait(false);
        return list.Members.Where(m => m.Name.Length > 0).ToDictionary(m => m.ID, m => m.Name);
    }

    private static string Hex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);
}
