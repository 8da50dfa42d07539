using System.Diagnostics;
using System.Globalization;
using System.Net;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Data;

/// <summary>What Get-EtcdHealth needs besides the connection: who the verdicts are about and how to name it in advice.</summary>
public sealed record EtcdHealthTarget(string Description, string AdviceTarget, string? TlsDirectory = null, string? ClusterName = null);

/// <summary>One member's /metrics at one moment (null Metrics: it could not be read, see Error).</summary>
public sealed record MemberMetricsSample(string Member, PrometheusMetrics? Metrics, DateTime TakenUtc, string? Error);

/// <summary>
/// Get-EtcdHealth: every member's status and /metrics (twice, a window apart, or once for "since
/// start"), judged by the rules of <see cref="EtcdHealthRules"/>.
/// </summary>
public sealed class EtcdHealthService(EtcdConnection connection)
{
    /// <summary>The longest -Window accepted (one hour).</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromHours(1);

    public async Task<IReadOnlyList<EtcdHealthVerdict>> EvaluateAsync(IReadOnlyDictionary<string, string?>? hostEndpoints, EtcdHealthTarget target, TimeSpan? window, CancellationToken ct)
    {
        if (window is { } w && (w <= TimeSpan.Zero || w > MaxWindow))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidHealthWindow,
                $"-Window {w} is not between 1 second and {MaxWindow}: give a duration such as 00:00:10 (omit it to judge the counters since each member started).", w);
        }
        var log = connection.Log;
        var members = await new EtcdClusterStatusService(connection).GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
        var first = await SampleAsync(members, ct).ConfigureAwait(false);
        IReadOnlyList<MemberMetricsSample>? second = null;
        if (window is { } span)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < span)
            {
                var left = span - sw.Elapsed;
                log.Progress(new OperationProgress("Get-EtcdHealth", $"Sampling every member's /metrics over {span}: {left.TotalSeconds:0} s left",
                    (int)Math.Min(99, 100 * sw.Elapsed.TotalSeconds / span.TotalSeconds)));
                await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            log.Progress(new OperationProgress("Get-EtcdHealth", "Sampled", 100, Completed: true));
            second = await SampleAsync(members, ct).ConfigureAwait(false);
        }
        List<EtcdHealthVerdict> certificates = [];
        if (target.TlsDirectory is { } dir && Directory.Exists(dir))
        {
            certificates.Add(EtcdHealthRules.CertificateVerdict(Pki.CertificateInventory.SoonestExpiry(dir), DateTime.UtcNow, target));
        }
        else
        {
            certificates.Add(EtcdHealthRules.Ok(EtcdHealthRules.Certificates, target, "The cluster has no TLS certificates of this module to check.", null, 30, "days", "K3dEtcd (30 days, as Test-EtcdCluster's CertificateExpiresSoon)", null));
        }
        return [.. EtcdHealthRules.Evaluate(members, first, second, target), .. certificates];
    }

    private async Task<IReadOnlyList<MemberMetricsSample>> SampleAsync(IReadOnlyList<EtcdMemberStatus> members, CancellationToken ct)
    {
        var reads = members.Where(m => m.Endpoint is not null).Select(async m =>
        {
            try
            {
                connection.Log.Verbose($"HTTP: GET {m.Endpoint}/metrics.");
                var (status, body) = await connection.GetHttpAsync(m.Endpoint!, "/metrics", ct).ConfigureAwait(false);
                return status == HttpStatusCode.OK
                    ? new MemberMetricsSample(m.Name, PrometheusMetrics.Parse(body), DateTime.UtcNow, null)
                    : new MemberMetricsSample(m.Name, null, DateTime.UtcNow, $"GET /metrics answered {(int)status}");
            }
            catch (K3dEtcdException ex)
            {
                return new MemberMetricsSample(m.Name, null, DateTime.UtcNow, ex.Message);
            }
        });
        return await Task.WhenAll(reads).ConfigureAwait(false);
    }
}

/// <summary>
/// The rules, each with etcd's own threshold where etcd has one (the alerts of etcd's
/// contrib/mixin/mixin.libsonnet), as pure functions of members' status and metrics samples.
/// </summary>
public static class EtcdHealthRules
{
    public const string NoLeader = "NoLeader", MemberDown = "MemberDown", LeaderChanges = "LeaderChanges", FailedProposals = "FailedProposals",
        WalFsync = "WalFsync", BackendCommit = "BackendCommit", PeerRoundTrip = "PeerRoundTrip", DatabaseQuota = "DatabaseQuota",
        Fragmentation = "Fragmentation", MixedVersions = "MixedVersions", EndOfLife = "EndOfLife", Certificates = "Certificates";

    private const string Mixin = "etcd contrib/mixin/mixin.libsonnet";
    private const double MiB = 1024 * 1024;
    private static readonly TimeSpan FifteenMinutes = TimeSpan.FromMinutes(15);

    public static IEnumerable<EtcdHealthVerdict> Evaluate(IReadOnlyList<EtcdMemberStatus> members, IReadOnlyList<MemberMetricsSample> first,
        IReadOnlyList<MemberMetricsSample>? second, EtcdHealthTarget target)
    {
        var latest = (second ?? first).Where(s => s.Metrics is not null).ToDictionary(s => s.Member, StringComparer.Ordinal);
        var earlier = second is null ? null : first.Where(s => s.Metrics is not null).ToDictionary(s => s.Member, StringComparer.Ordinal);
        var failed = (second ?? first).Where(s => s.Metrics is null).ToDictionary(s => s.Member, s => s.Error, StringComparer.Ordinal);
        var names = members.ToDictionary(m => m.Id, m => string.IsNullOrEmpty(m.Name) ? m.Id : m.Name, StringComparer.Ordinal);

        // Per member: its latest metrics, the ones a window earlier (or none: since start), and the span between.
        var measured = new List<(string Member, PrometheusMetrics Now, PrometheusMetrics Before, TimeSpan? Over)>();
        foreach (var (member, sample) in latest.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (earlier is not null && earlier.TryGetValue(member, out var before))
            {
                measured.Add((member, sample.Metrics!, before.Metrics!, sample.TakenUtc - before.TakenUtc));
            }
            else
            {
                var start = sample.Metrics!.Value("process_start_time_seconds");
                TimeSpan? uptime = start is { } s ? sample.TakenUtc - DateTime.UnixEpoch.AddSeconds(s) : null;
                measured.Add((member, sample.Metrics!, PrometheusMetrics.Empty, uptime));
            }
        }
        var window = measured.Select(m => m.Over).Where(o => o is not null).DefaultIfEmpty(null).Max();
        var verdicts = new List<EtcdHealthVerdict>();

        // No leader (etcdNoLeader: etcd_server_has_leader == 0, critical).
        var leaderless = members.Where(m => m.Endpoint is not null && (m.LeaderId is null || (latest.TryGetValue(m.Name, out var s) && s.Metrics!.Value("etcd_server_has_leader") == 0))).ToList();
        var reachable = members.Count(m => m.Endpoint is not null);
        if (reachable == 0)
        {
            verdicts.Add(Finding(EtcdHealthSeverity.Critical, NoLeader, null, null, null, null, "No member answered: nobody can say there is a leader.",
                $"Test-EtcdCluster {target.AdviceTarget}; Repair-EtcdCluster {target.AdviceTarget} once quorum is lost", $"{Mixin} etcdNoLeader", target, window));
        }
        foreach (var m in leaderless)
        {
            verdicts.Add(Finding(EtcdHealthSeverity.Critical, NoLeader, m.Name, 0, 1, "leader", $"{m.Name} has no leader (etcd_server_has_leader 0): the cluster has lost quorum or is electing.",
                $"Test-EtcdCluster {target.AdviceTarget}; Repair-EtcdCluster {target.AdviceTarget} once quorum is lost", $"{Mixin} etcdNoLeader", target, window));
        }
        if (reachable > 0 && leaderless.Count == 0)
        {
            var leader = members.FirstOrDefault(m => m.IsLeader);
            verdicts.Add(Ok(NoLeader, target, $"Every member that answered follows a leader{(leader is null ? "" : $" ({leader.Name})")}.", 1, 1, "leader", $"{Mixin} etcdNoLeader", window));
        }

        // Member down or unreachable (etcdMembersDown / etcdInsufficientMembers, critical).
        var down = 0;
        foreach (var m in members)
        {
            string? why = m.Endpoint is null ? m.Error : failed.TryGetValue(m.Name, out var e) ? $"its /metrics cannot be read: {e}" : null;
            if (why is null) continue;
            down++;
            var member = string.IsNullOrEmpty(m.Name) ? m.Id : m.Name;
            verdicts.Add(Finding(EtcdHealthSeverity.Critical, MemberDown, member, null, null, null, $"{member} is down or unreachable: {why}",
                $"Start-EtcdMember {target.AdviceTarget} -Name {member} (or Repair-EtcdMember)", $"{Mixin} etcdMembersDown", target, window));
        }
        if (down == 0) verdicts.Add(Ok(MemberDown, target, $"All {members.Count} members answer their status and /metrics.", 0, 0, "members down", $"{Mixin} etcdMembersDown", window));

        // Leader changes (etcdHighNumberOfLeaderChanges: increase of max(etcd_server_leader_changes_seen_total) over 15 min >= 4, warning).
        {
            double? worst = null;
            string? at = null;
            TimeSpan? over = null;
            foreach (var (member, now, before, span) in measured)
            {
                if (now.Value("etcd_server_leader_changes_seen_total") is not { } c) continue;
                var delta = Increase(c, before.Value("etcd_server_leader_changes_seen_total"));
                // Over a window shorter than 15 minutes, the changes seen are at most the changes of 15
                // minutes; over a longer one, they are scaled to 15 minutes (the average rate).
                var per15 = span is { } sp && sp > FifteenMinutes ? delta * FifteenMinutes.TotalSeconds / sp.TotalSeconds : delta;
                if (worst is null || per15 > worst) { worst = per15; at = member; over = span; }
            }
            var what = over is null ? "since start" : $"in {Describe(over.Value)}{(over > FifteenMinutes ? " (scaled to 15 min)" : "")}";
            if (worst >= 4)
            {
                verdicts.Add(Finding(EtcdHealthSeverity.Warning, LeaderChanges, null, worst, 4, "changes", $"{worst:0.#} leader changes {what} (seen by {at}); frequent elections point at slow disks, CPU starvation or the network.",
                    $"Measure-EtcdDisk {target.AdviceTarget}", $"{Mixin} etcdHighNumberOfLeaderChanges", target, over));
            }
            else verdicts.Add(Ok(LeaderChanges, target, worst is null ? "No member exports etcd_server_leader_changes_seen_total." : $"{worst:0.#} leader changes {what}.", worst, 4, "changes", $"{Mixin} etcdHighNumberOfLeaderChanges", over));
        }

        // Failed proposals (etcdHighNumberOfFailedProposals: rate(etcd_server_proposals_failed_total[15m]) > 5, warning).
        PerMember(verdicts, measured, FailedProposals, target, $"{Mixin} etcdHighNumberOfFailedProposals", "failures/s",
            (now, before, span) => now.Value("etcd_server_proposals_failed_total") is { } f && span is { TotalSeconds: > 0 } sp
                ? Increase(f, before.Value("etcd_server_proposals_failed_total")) / sp.TotalSeconds : null,
            warn: 5, crit: null, advice: $"Test-EtcdCluster {target.AdviceTarget}",
            say: (m, v) => $"{m}: {v:0.###} failed proposals per second (a leader lost, or no quorum).");

        // WAL fsync p99 (etcdHighFsyncDurations: > 0.5 s warning, > 1 s critical).
        PerMember(verdicts, measured, WalFsync, target, $"{Mixin} etcdHighFsyncDurations", "s",
            (now, before, _) => now.Histogram("etcd_disk_wal_fsync_duration_seconds").Since(before.Histogram("etcd_disk_wal_fsync_duration_seconds")).Quantile(0.99),
            warn: 0.5, crit: 1, advice: $"Measure-EtcdDisk {target.AdviceTarget}",
            say: (m, v) => $"{m}: WAL fsync p99 {v:0.####} s (the disk is too slow for etcd).");

        // Backend commit p99 (etcdHighCommitDurations: > 0.25 s, warning).
        PerMember(verdicts, measured, BackendCommit, target, $"{Mixin} etcdHighCommitDurations", "s",
            (now, before, _) => now.Histogram("etcd_disk_backend_commit_duration_seconds").Since(before.Histogram("etcd_disk_backend_commit_duration_seconds")).Quantile(0.99),
            warn: 0.25, crit: null, advice: $"Measure-EtcdDisk {target.AdviceTarget}",
            say: (m, v) => $"{m}: backend commit p99 {v:0.####} s (the disk is too slow for etcd).");

        // Peer round trip p99 per peer (etcdMemberCommunicationSlow: > 0.15 s, warning).
        {
            var found = 0;
            double? worst = null;
            foreach (var (member, now, before, span) in measured)
            {
                foreach (var to in now.Samples("etcd_network_peer_round_trip_time_seconds_bucket").Select(s => s.Label("To")).OfType<string>().Distinct(StringComparer.Ordinal))
                {
                    var p99 = now.Histogram("etcd_network_peer_round_trip_time_seconds", ("To", to))
                        .Since(before.Histogram("etcd_network_peer_round_trip_time_seconds", ("To", to))).Quantile(0.99);
                    if (p99 is not { } v) continue;
                    worst = worst is null || v > worst ? v : worst;
                    if (v <= 0.15) continue;
                    found++;
                    var peer = names.TryGetValue(to, out var n) ? n : to;
                    verdicts.Add(Finding(EtcdHealthSeverity.Warning, PeerRoundTrip, member, v, 0.15, "s", $"{member} to {peer}: peer round-trip p99 {v:0.####} s.",
                        $"Get-EtcdLeaderStats {target.AdviceTarget}", $"{Mixin} etcdMemberCommunicationSlow", target, span));
                }
            }
            if (found == 0) verdicts.Add(Ok(PeerRoundTrip, target, worst is null ? "No peer round trip was measured (a one-member cluster, or none in the window)." : $"Peer round-trip p99 at most {worst:0.####} s.", worst, 0.15, "s", $"{Mixin} etcdMemberCommunicationSlow", window));
        }

        // Database size against the quota (etcdBackendQuotaLowSpace: > 95 % critical; 80 % warning is ours) and NOSPACE alarms.
        {
            var found = 0;
            double? worst = null;
            foreach (var m in members)
            {
                latest.TryGetValue(m.Name, out var s);
                var size = s?.Metrics!.Value("etcd_mvcc_db_total_size_in_bytes") ?? s?.Metrics!.Value("etcd_debugging_mvcc_db_total_size_in_bytes") ?? m.DbSize;
                var quota = s?.Metrics!.Value("etcd_server_quota_backend_bytes");
                var nospace = m.Alarms.Contains("NOSPACE", StringComparer.Ordinal);
                if (size is null || quota is not > 0)
                {
                    if (nospace) { found++; verdicts.Add(Finding(EtcdHealthSeverity.Critical, DatabaseQuota, m.Name, null, 95, "%", $"{m.Name} has raised NOSPACE: etcd refuses writes.", $"Optimize-EtcdCluster {target.AdviceTarget}", $"{Mixin} etcdBackendQuotaLowSpace", target, window)); }
                    continue;
                }
                var percent = 100.0 * size.Value / quota.Value;
                worst = worst is null || percent > worst ? percent : worst;
                var severity = nospace || percent > 95 ? EtcdHealthSeverity.Critical : percent > 80 ? EtcdHealthSeverity.Warning : EtcdHealthSeverity.Ok;
                if (severity == EtcdHealthSeverity.Ok) continue;
                found++;
                verdicts.Add(Finding(severity, DatabaseQuota, m.Name, Math.Round(percent, 1), severity == EtcdHealthSeverity.Critical ? 95 : 80, "%",
                    $"{m.Name}: database {size.Value / MiB:0.#} MiB of a {quota.Value / MiB:0.#} MiB quota{(nospace ? "; NOSPACE raised: etcd refuses writes" : "; past the quota etcd raises NOSPACE and refuses writes")}.",
                    $"Optimize-EtcdCluster {target.AdviceTarget}", $"{Mixin} etcdBackendQuotaLowSpace (> 95 %); 80 % warning: K3dEtcd", target, window));
            }
            if (found == 0) verdicts.Add(Ok(DatabaseQuota, target, worst is null ? "No member exports its database size and quota." : $"Largest database at {worst:0.#} % of its quota.", worst is null ? null : Math.Round(worst.Value, 1), 80, "%", $"{Mixin} etcdBackendQuotaLowSpace", window));
        }

        // Fragmentation (etcdDatabaseHighFragmentationRatio: in use / total < 0.5 on a big database, warning).
        {
            var found = 0;
            double? worst = null;
            foreach (var m in members)
            {
                latest.TryGetValue(m.Name, out var s);
                var size = s?.Metrics!.Value("etcd_mvcc_db_total_size_in_bytes") ?? m.DbSize;
                var inUse = s?.Metrics!.Value("etcd_mvcc_db_total_size_in_use_in_bytes") ?? m.DbSizeInUse;
                if (size is not > 0 || inUse is null) continue;
                var ratio = inUse.Value / size.Value;
                if (size.Value > 100 * MiB) worst = worst is null || ratio < worst ? ratio : worst;
                if (!(ratio < 0.5 && size.Value > 100 * MiB)) continue;
                found++;
                verdicts.Add(Finding(EtcdHealthSeverity.Warning, Fragmentation, m.Name, Math.Round(ratio, 3), 0.5, "ratio",
                    $"{m.Name}: {inUse.Value / MiB:0.#} MiB in use of a {size.Value / MiB:0.#} MiB database; defragmentation returns the rest.",
                    $"Optimize-EtcdCluster {target.AdviceTarget}", "etcd mixin etcdDatabaseHighFragmentationRatio (as in kube-prometheus)", target, window));
            }
            if (found == 0) verdicts.Add(Ok(Fragmentation, target, worst is null ? "No database is over 100 MiB." : $"Lowest in-use ratio of a database over 100 MiB: {worst:0.###}.", worst is null ? null : Math.Round(worst.Value, 3), 0.5, "ratio", "etcd mixin etcdDatabaseHighFragmentationRatio (as in kube-prometheus)", window));
        }

        // Versions: members on different versions, and versions past their end of life.
        var versions = members.Where(m => m.Version is not null).GroupBy(m => m.Version!, StringComparer.Ordinal).ToList();
        if (versions.Count > 1)
        {
            verdicts.Add(Finding(EtcdHealthSeverity.Warning, MixedVersions, null, versions.Count, 1, "versions",
                $"Members run different etcd versions ({string.Join(", ", versions.Select(g => $"{g.Key}: {string.Join(",", g.Select(m => m.Name))}"))}); the cluster runs at the lowest until all are upgraded.",
                $"Update-EtcdCluster {target.AdviceTarget}", "etcd upgrade guide (a mixed cluster is a rolling upgrade's transient state)", target, null));
        }
        else verdicts.Add(Ok(MixedVersions, target, versions.Count == 0 ? "No member reported its version." : $"Every member runs {versions[0].Key}.", versions.Count, 1, "versions", "etcd upgrade guide", null));
        var eol = versions.Where(g => IsEndOfLife(g.Key)).ToList();
        foreach (var g in eol)
        {
            verdicts.Add(Finding(EtcdHealthSeverity.Warning, EndOfLife, string.Join(",", g.Select(m => m.Name)), null, null, null,
                $"etcd {g.Key} is past its end of life: etcd maintains the current and the previous minor release (3.6 and 3.5); 3.4 went out of support when 3.6 was released.",
                $"Update-EtcdCluster {target.AdviceTarget}", "etcd.io/docs/v3.6/op-guide/versioning", target, null));
        }
        if (eol.Count == 0) verdicts.Add(Ok(EndOfLife, target, versions.Count == 0 ? "No member reported its version." : $"{string.Join(", ", versions.Select(g => g.Key))} still maintained.", null, null, null, "etcd.io/docs/v3.6/op-guide/versioning", null));

        return verdicts;
    }

    /// <summary>True for an etcd version older than 3.5 (etcd maintains only the current and the previous minor release).</summary>
    public static bool IsEndOfLife(string version) =>
        Version.TryParse(version.Split('-', '+')[0], out var v) && (v.Major < 3 || (v.Major == 3 && v.Minor < 5));

    public static EtcdHealthVerdict CertificateVerdict(DateTime? soonest, DateTime nowUtc, EtcdHealthTarget target)
    {
        const string source = "K3dEtcd (30 days, as Test-EtcdCluster's CertificateExpiresSoon)";
        if (soonest is not { } end) return Ok(Certificates, target, "No certificate of the cluster could be read.", null, 30, "days", source, null);
        var days = Math.Round((end - nowUtc).TotalDays, 1);
        var advice = $"Update-EtcdCertificate {target.AdviceTarget}";
        if (end <= nowUtc) return Finding(EtcdHealthSeverity.Critical, Certificates, null, days, 0, "days", $"A certificate of the cluster expired on {end:u}: members and clients holding it are refused.", advice, source, target, null);
        if (days <= 30) return Finding(EtcdHealthSeverity.Warning, Certificates, null, days, 30, "days", $"A certificate of the cluster expires on {end:u}.", advice, source, target, null);
        return Ok(Certificates, target, $"The soonest certificate ends on {end:u}.", days, 30, "days", source, null);
    }

    private static void PerMember(List<EtcdHealthVerdict> verdicts, List<(string Member, PrometheusMetrics Now, PrometheusMetrics Before, TimeSpan? Over)> measured,
        string rule, EtcdHealthTarget target, string source, string unit, Func<PrometheusMetrics, PrometheusMetrics, TimeSpan?, double?> value,
        double warn, double? crit, string advice, Func<string, double, string> say)
    {
        var found = 0;
        double? worst = null;
        TimeSpan? window = null;
        foreach (var (member, now, before, span) in measured)
        {
            if (value(now, before, span) is not { } v || double.IsNaN(v)) continue;
            if (worst is null || v > worst) { worst = v; window = span; }
            var severity = crit is { } c && v > c ? EtcdHealthSeverity.Critical : v > warn ? EtcdHealthSeverity.Warning : EtcdHealthSeverity.Ok;
            if (severity == EtcdHealthSeverity.Ok) continue;
            found++;
            verdicts.Add(Finding(severity, rule, member, v, severity == EtcdHealthSeverity.Critical ? crit : warn, unit, say(member, v), advice, source, target, span));
        }
        if (found == 0)
        {
            verdicts.Add(Ok(rule, target, worst is null ? "Nothing measured (no observations in the window)." : $"At most {worst.Value.ToString("0.####", CultureInfo.InvariantCulture)} {unit} on any member.", worst, warn, unit, source, window));
        }
    }

    /// <summary>A counter's increase; a counter that went down was reset (the member restarted), so it counts from zero.</summary>
    private static double Increase(double now, double? before) => before is { } b && now >= b ? now - b : now;

    private static string Describe(TimeSpan span) =>
        span.TotalMinutes >= 1 ? $"{span.TotalMinutes:0.#} min" : $"{span.TotalSeconds:0} s";

    internal static EtcdHealthVerdict Ok(string rule, EtcdHealthTarget target, string message, double? value, double? threshold, string? unit, string? source, TimeSpan? over) => new()
    {
        Severity = EtcdHealthSeverity.Ok, Rule = rule, Value = value, Threshold = threshold, Unit = unit, Message = message,
        Source = source ?? "", Cluster = target.Description, MeasuredOver = over,
    };

    private static EtcdHealthVerdict Finding(EtcdHealthSeverity severity, string rule, string? member, double? value, double? threshold, string? unit,
        string message, string advice, string source, EtcdHealthTarget target, TimeSpan? over) => new()
    {
        Severity = severity, Rule = rule, Member = member, Value = value, Threshold = threshold, Unit = unit, Message = message,
        Advice = advice, Source = source, Cluster = target.Description, MeasuredOver = over,
    };
}
