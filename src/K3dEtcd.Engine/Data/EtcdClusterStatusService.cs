using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Data;

/// <summary>
/// Members, health and leader statistics. Every member is asked about itself, so one that is
/// down is reported with its error instead of disappearing from the answer.
/// </summary>
public sealed partial class EtcdClusterStatusService(EtcdConnection connection)
{
    private IOperationLog Log => connection.Log;

    /// <summary>
    /// Lists the members with each one's own status. <paramref name="hostEndpoints"/> maps member
    /// names to the URL this host reaches them at (a K3dEtcd cluster publishes ports; etcd
    /// advertises in-network URLs); a null URL means the member's container is not running.
    /// </summary>
    public async Task<IReadOnlyList<EtcdMemberStatus>> GetMembersAsync(IReadOnlyDictionary<string, string?>? hostEndpoints, CancellationToken ct)
    {
        Log.Verbose($"etcd: member list from {string.Join(',', connection.Endpoints)}.");
        var list = await connection.CallAsync("member list", o => connection.Grpc.ClusterClient.MemberListAsync(new MemberListRequest(), o), ct).ConfigureAwait(false);

        // Round 1: every endpoint we were given or know from the cluster model.
        var probes = new Dictionary<string, Task<ProbeResult>>(StringComparer.Ordinal);
        foreach (var ep in connection.Endpoints.Concat(hostEndpoints?.Values.OfType<string>() ?? []))
        {
            if (!probes.ContainsKey(ep)) probes[ep] = ProbeAsync(ep, ct);
        }
        await Task.WhenAll(probes.Values).ConfigureAwait(false);
        var byId = probes.Values.Select(t => t.Result).Where(r => r.Status is not null)
            .GroupBy(r => r.Status!.Header.MemberId).ToDictionary(g => g.Key, g => g.First());

        // Round 2: members nobody answered for, at the client URLs they advertise (reachable for most etcds, not for in-network ones).
        var round2 = new Dictionary<string, Task<ProbeResult>>(StringComparer.Ordinal);
        foreach (var m in list.Members.Where(m => !byId.ContainsKey(m.ID) && !IsStoppedContainer(m, hostEndpoints)))
        {
            foreach (var url in m.ClientURLs.Where(u => !probes.ContainsKey(u) && EtcdConnectionOptions.TryParseEndpoint(u, out _)))
            {
                if (!round2.ContainsKey(url)) round2[url] = ProbeAsync(url, ct);
            }
        }
        await Task.WhenAll(round2.Values).ConfigureAwait(false);
        foreach (var r in round2.Values.Select(t => t.Result).Where(r => r.Status is not null))
        {
            byId.TryAdd(r.Status!.Header.MemberId, r);
        }
        var allProbes = probes.Concat(round2).ToDictionary(p => p.Key, p => p.Value.Result, StringComparer.Ordinal);

        // The leader as the members that answered see it.
        var leaderId = byId.Values.Select(r => r.Status!.Leader).Where(l => l != 0)
            .GroupBy(l => l).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault();

        var alarmsById = AlarmsByMember(byId.Values.Select(r => r.Status!));
        var result = new List<EtcdMemberStatus>();
        foreach (var m in list.Members)
        {
            var name = string.IsNullOrEmpty(m.Name) ? null : m.Name;
            if (byId.TryGetValue(m.ID, out var probe))
            {
                var s = probe.Status!;
                var alarms = s.Errors.Count > 0 ? string.Join("; ", s.Errors) : null;
                result.Add(new EtcdMemberStatus
                {
                    Id = Hex(m.ID), Name = name ?? "", PeerUrls = [.. m.PeerURLs], ClientUrls = [.. m.ClientURLs],
                    Endpoint = probe.Endpoint, IsLeader = s.Leader == m.ID, IsLearner = m.IsLearner || s.IsLearner,
                    RaftTerm = (long)s.RaftTerm, RaftIndex = (long)s.RaftIndex, DbSize = s.DbSize, Version = s.Version,
                    DbSizeInUse = s.DbSizeInUse, RaftAppliedIndex = (long)s.RaftAppliedIndex,
                    Alarms = alarmsById.TryGetValue(m.ID, out var raised) ? raised : [],
                    LeaderId = s.Leader == 0 ? null : Hex(s.Leader),
                    Healthy = s.Leader != 0 && alarms is null,
                    Error = s.Leader == 0 ? "the member has no leader" : alarms,
                });
                continue;
            }
            result.Add(new EtcdMemberStatus
            {
                Id = Hex(m.ID), Name = name ?? "", PeerUrls = [.. m.PeerURLs], ClientUrls = [.. m.ClientURLs],
                IsLeader = leaderId != 0 && leaderId == m.ID, IsLearner = m.IsLearner,
                LeaderId = leaderId == 0 ? null : Hex(leaderId),
                Healthy = false,
                Error = name is null ? "the member has not started yet (unstarted members have no name)" : WhyUnreachable(m, hostEndpoints, allProbes),
            });
        }
        return result;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"memberID:(\d+)\s+alarm:(\w+)")]
    private static partial System.Text.RegularExpressions.Regex AlarmText();

    /// <summary>
    /// Alarms per member, from the alarm lines every member puts in its own status ("memberID:N
    /// alarm:NOSPACE"): no extra request, and none through raft (an Alarm GET is a raft request that
    /// blocks without quorum).
    /// </summary>
    private static Dictionary<ulong, string[]> AlarmsByMember(IEnumerable<StatusResponse> statuses) =>
        statuses.SelectMany(s => s.Errors).Select(e => AlarmText().Match(e)).Where(m => m.Success)
            .Select(m => (Id: ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Alarm: m.Groups[2].Value.ToUpperInvariant()))
            .Where(a => a.Alarm != "NONE")
            .GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.Select(a => a.Alarm).Distinct().ToArray());

    private static bool IsStoppedContainer(Member m, IReadOnlyDictionary<string, string?>? hostEndpoints) =>
        hostEndpoints is not null && hostEndpoints.TryGetValue(m.Name, out var url) && url is null;

    private static string WhyUnreachable(Member m, IReadOnlyDictionary<string, string?>? hostEndpoints, Dictionary<string, ProbeResult> probes)
    {
        if (hostEndpoints is not null && hostEndpoints.TryGetValue(m.Name, out var url))
        {
            if (url is null) return "its container is not running (no published client port)";
            if (probes.TryGetValue(url, out var p) && p.Error is not null) return $"{url}: {p.Error}";
        }
        var errors = m.ClientURLs.Where(probes.ContainsKey).Select(u => $"{u}: {probes[u].Error ?? "answered as another member"}").ToList();
        return errors.Count > 0 ? string.Join("; ", errors) : $"not reachable from here (advertised client URLs: {string.Join(',', m.ClientURLs)})";
    }

    private sealed record ProbeResult(string Endpoint, StatusResponse? Status, string? Error, TimeSpan Took);

    private async Task<ProbeResult> ProbeAsync(string endpoint, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            var member = connection.ForEndpoint(endpoint);
            Log.Verbose($"etcd: status of {endpoint}.");
            var status = await member.CallAsync("status", o => member.Grpc.MaintenanceClient.StatusAsync(new StatusRequest(), o), ct, endpoint).ConfigureAwait(false);
            return new ProbeResult(endpoint, status, null, sw.Elapsed);
        }
        catch (K3dEtcdException ex)
        {
            return new ProbeResult(endpoint, null, ex.Message, sw.Elapsed);
        }
    }

    /// <summary>Per-member health: the member's status plus a linearizable read through it (what etcdctl endpoint health does).</summary>
    public async Task<IReadOnlyList<EtcdHealth>> TestAsync(IReadOnlyDictionary<string, string?>? hostEndpoints, CancellationToken ct)
    {
        var members = await GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        var checks = members.Select(async m =>
        {
            if (!m.Healthy || m.Endpoint is null)
            {
                return new EtcdHealth { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Healthy = false, IsLeader = m.IsLeader, Error = m.Error };
            }
            var member = connection.ForEndpoint(m.Endpoint);
            var sw = Stopwatch.StartNew();
            try
            {
                Log.Verbose($"etcd: linearizable read of 'health' through {m.Endpoint}.");
                await member.CallAsync("health read", o => member.Grpc.KVClient.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("health") }, o), ct, m.Endpoint).ConfigureAwait(false);
                return new EtcdHealth { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Healthy = true, IsLeader = m.IsLeader, Took = sw.Elapsed };
            }
            catch (K3dEtcdException ex) when (ex.Kind == FailureKind.SecurityError && ex.ErrorId == ErrorCatalog.EtcdAccessDenied.Id)
            {
                // Like etcdctl: a permission error still proves the member answered with consensus.
                return new EtcdHealth { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Healthy = true, IsLeader = m.IsLeader, Took = sw.Elapsed };
            }
            catch (K3dEtcdException ex)
            {
                return new EtcdHealth { Name = m.Name, Id = m.Id, Endpoint = m.Endpoint, Healthy = false, IsLeader = m.IsLeader, Took = sw.Elapsed, Error = ex.Message };
            }
        });
        return await Task.WhenAll(checks).ConfigureAwait(false);
    }

    /// <summary>True only with a healthy leader and a quorum of healthy voting members.</summary>
    public static bool IsQuorate(IReadOnlyList<EtcdHealth> health, IReadOnlyList<EtcdMemberStatus>? members = null)
    {
        var voters = health.Count(h => members?.FirstOrDefault(m => m.Id == h.Id)?.IsLearner != true);
        var healthyVoters = health.Count(h => h.Healthy && members?.FirstOrDefault(m => m.Id == h.Id)?.IsLearner != true);
        return health.Any(h => h.IsLeader && h.Healthy) && healthyVoters >= voters / 2 + 1;
    }

    /// <summary>
    /// Leader statistics: /v2/stats/leader when the leader serves it, else built from v3 status
    /// and the leader's Prometheus metrics, leaving unknowable fields null.
    /// </summary>
    public async Task<EtcdLeaderStats> GetLeaderStatsAsync(IReadOnlyDictionary<string, string?>? hostEndpoints, CancellationToken ct)
    {
        var members = await GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        var leader = members.FirstOrDefault(m => m.IsLeader)
            ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader,
                "No member reports a leader: the cluster has lost quorum or is still electing one.", string.Join(',', connection.Endpoints));
        if (leader.Endpoint is null)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdLeaderUnreachable,
                $"The leader {leader.Name} ({leader.Id}) cannot be reached from here: {leader.Error}", leader.Name);
        }
        var followers = members.Where(m => m.Id != leader.Id).ToList();
        Log.Verbose($"HTTP: GET {leader.Endpoint}/v2/stats/leader.");
        var (status, body) = await connection.GetHttpAsync(leader.Endpoint, "/v2/stats/leader", ct).ConfigureAwait(false);
        if (status == HttpStatusCode.OK && TryParseV2(body, leader, followers, out var v2)) return v2;
        Log.Verbose($"etcd: /v2/stats/leader answered {(int)status}; using v3 status and GET {leader.Endpoint}/metrics.");
        // A leader observes a follower's round trip first 5 s after the peer joins its prober
        // (rafthttp statusErrorInterval), then every 30 s: right after a create the histogram is
        // still empty, so ask again for a few seconds rather than show a latency nobody measured yet.
        for (var attempt = 0; ; attempt++)
        {
            var (metricsStatus, metrics) = await connection.GetHttpAsync(leader.Endpoint, "/metrics", ct).ConfigureAwait(false);
            if (metricsStatus != HttpStatusCode.OK)
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdMetricsUnavailable,
                    $"The leader serves neither /v2/stats/leader nor /metrics ({(int)metricsStatus}).", leader.Endpoint);
            }
            var stats = FromMetrics(metrics, leader, followers);
            var unmeasured = stats.Followers.Where(f => f.Reachable == true && f.Latency.Samples is null).Select(f => f.Name ?? f.Id).ToList();
            if (unmeasured.Count == 0 || attempt >= FirstProbeWaitSeconds) return stats;
            Log.Verbose($"etcd: the leader has not measured the round trip to {string.Join(", ", unmeasured)} yet (its first probe comes 5 s after a peer joins); asking again in 1 s.");
            await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        }
    }

    private const int FirstProbeWaitSeconds = 6;

    internal static bool TryParseV2(string body, EtcdMemberStatus leader, IReadOnlyList<EtcdMemberStatus> others, out EtcdLeaderStats stats)
    {
        stats = null!;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (!root.TryGetProperty("followers", out var fs) || fs.ValueKind != JsonValueKind.Object) return false;
            var followers = new List<EtcdFollowerStats>();
            foreach (var f in fs.EnumerateObject())
            {
                var id = NormalizeHex(f.Name);
                var member = others.FirstOrDefault(m => m.Id == id);
                var lat = f.Value.TryGetProperty("latency", out var l) ? l : default;
                var counts = f.Value.TryGetProperty("counts", out var c) ? c : default;
                followers.Add(new EtcdFollowerStats
                {
                    Id = id,
                    Name = member?.Name,
                    // etcd's v2 FollowerStats keeps latency in milliseconds (Succ: float64(d) / 1000000.0 of a
                    // time.Duration); EtcdLatency is seconds, as the metrics source gives it.
                    Latency = new EtcdLatency
                    {
                        Current = Seconds(lat, "current"), Average = Seconds(lat, "average"), StandardDeviation = Seconds(lat, "standardDeviation"),
                        Minimum = Seconds(lat, "minimum"), Maximum = Seconds(lat, "maximum"),
                    },
                    Counts = new EtcdFollowerCounts { Fail = (long?)Num(counts, "fail"), Success = (long?)Num(counts, "success") },
                    Reachable = member is null ? null : member.Endpoint is not null && member.Error is null,
                });
            }
            var leaderId = root.TryGetProperty("leader", out var lid) && lid.ValueKind == JsonValueKind.String ? NormalizeHex(lid.GetString()!) : leader.Id;
            stats = new EtcdLeaderStats
            {
                LeaderId = leaderId, LeaderName = leader.Name, Endpoint = leader.Endpoint, RaftTerm = leader.RaftTerm,
                Followers = [.. followers.OrderBy(f => f.Name ?? f.Id, StringComparer.Ordinal)], Source = "v2",
            };
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static double? Seconds(JsonElement e, string milliseconds) => Num(e, milliseconds) / 1000.0;

    private static double? Num(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    internal static EtcdLeaderStats FromMetrics(string metrics, EtcdMemberStatus leader, IReadOnlyList<EtcdMemberStatus> others)
    {
        var samples = PrometheusText.Parse(metrics);
        double? Value(string name, string to) => samples.TryGetValue((name, to), out var v) ? v : null;
        var failureFamilyPresent = metrics.Contains("etcd_network_peer_sent_failures_total", StringComparison.Ordinal);
        var followers = others.Select(m =>
        {
            var sum = Value("etcd_network_peer_round_trip_time_seconds_sum", m.Id);
            var count = Value("etcd_network_peer_round_trip_time_seconds_count", m.Id);
            var failures = Value("etcd_network_peer_sent_failures_total", m.Id);
            return new EtcdFollowerStats
            {
                Id = m.Id,
                Name = m.Name,
                Latency = new EtcdLatency
                {
                    // Only the histogram's mean is exact; current, deviation, min and max are not in the metrics.
                    Average = count is > 0 && sum is { } s ? s / count.Value : null,
                    Samples = count is { } n ? (long)n : null,
                },
                Counts = new EtcdFollowerCounts
                {
                    // A labelled counter appears at its first increment: absent means no failure since the leader process started.
                    Fail = failures is { } f ? (long)f : failureFamilyPresent || count is not null ? 0 : null,
                    Success = null,
                },
                Reachable = m.Endpoint is not null && m.Error is null,
            };
        }).OrderBy(f => f.Name ?? f.Id, StringComparer.Ordinal).ToArray();
        return new EtcdLeaderStats
        {
            LeaderId = leader.Id, LeaderName = leader.Name, Endpoint = leader.Endpoint, RaftTerm = leader.RaftTerm,
            Followers = followers, Source = "metrics",
        };
    }

    public static string Hex(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);

    private static string NormalizeHex(string id) =>
        ulong.TryParse(id, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v) ? Hex(v) : id.ToLowerInvariant();
}

/// <summary>The few Prometheus text-format samples we need: per-peer values keyed by metric name and the To label.</summary>
internal static class PrometheusText
{
    public static Dictionary<(string Name, string To), double> Parse(string text)
    {
        var result = new Dictionary<(string, string), double>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || !line.StartsWith("etcd_network_peer_", StringComparison.Ordinal)) continue;
            var brace = line.IndexOf('{');
            var close = line.LastIndexOf('}');
            if (brace < 0 || close < brace) continue;
            var name = line[..brace];
            var labels = line[(brace + 1)..close];
            if (labels.Contains("le=\"", StringComparison.Ordinal)) continue; // buckets are not needed
            var to = Label(labels, "To");
            if (to is null) continue;
            var valueText = line[(close + 1)..].Trim().Split(' ')[0];
            if (double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                var key = (name, to);
                result[key] = result.TryGetValue(key, out var existing) ? existing + value : value;
            }
        }
        return result;
    }

    private static string? Label(string labels, string name)
    {
        var marker = name + "=\"";
        var i = labels.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0) return null;
        var start = i + marker.Length;
        var end = labels.IndexOf('"', start);
        return end < 0 ? null : labels[start..end];
    }
}
