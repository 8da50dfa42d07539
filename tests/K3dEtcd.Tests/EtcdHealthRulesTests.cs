using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// Get-EtcdHealth's arithmetic against fixed /metrics texts, each expected value computed by hand
/// (in the comments) as Prometheus' histogram_quantile computes it.
/// </summary>
public sealed class EtcdHealthRulesTests
{
    // A member's WAL fsync histogram at the start of a window ...
    private const string Before = """
        # HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
        # TYPE etcd_disk_wal_fsync_duration_seconds histogram
        etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 5
        etcd_disk_wal_fsync_duration_seconds_bucket{le="0.512"} 10
        etcd_disk_wal_fsync_duration_seconds_bucket{le="1.024"} 10
        etcd_disk_wal_fsync_duration_seconds_bucket{le="2.048"} 10
        etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 10
        etcd_disk_wal_fsync_duration_seconds_sum 2.5
        etcd_disk_wal_fsync_duration_seconds_count 10
        etcd_server_has_leader 1
        etcd_server_leader_changes_seen_total 1
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.0512"} 3
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.1024"} 3
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.2048"} 3
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="+Inf"} 3
        """;

    // ... and at its end.
    private const string After = """
        etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 5
        etcd_disk_wal_fsync_duration_seconds_bucket{le="0.512"} 50
        etcd_disk_wal_fsync_duration_seconds_bucket{le="1.024"} 100
        etcd_disk_wal_fsync_duration_seconds_bucket{le="2.048"} 110
        etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 110
        etcd_disk_wal_fsync_duration_seconds_sum 90.5
        etcd_disk_wal_fsync_duration_seconds_count 110
        etcd_server_has_leader 1
        etcd_server_leader_changes_seen_total 6
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.0512"} 3
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.1024"} 3
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="0.2048"} 13
        etcd_network_peer_round_trip_time_seconds_bucket{To="ade526d28b1f92f7",le="+Inf"} 13
        """;

    private static HistogramBuckets Wal(string text) => PrometheusMetrics.Parse(text).Histogram("etcd_disk_wal_fsync_duration_seconds");

    [Fact]
    public void P99_over_a_window_interpolates_inside_the_bucket_of_the_delta()
    {
        // Delta of the buckets: 0.256:0, 0.512:40, 1.024:90, 2.048:100, +Inf:100 (100 observations).
        // rank = 0.99 * 100 = 99, first in the 2.048 bucket (90 below it, 10 in it):
        // 1.024 + (2.048 - 1.024) * (99 - 90) / 10 = 1.024 + 0.9216 = 1.9456 s.
        var delta = Wal(After).Since(Wal(Before));
        Assert.Equal(100, delta.Total);
        Assert.Equal(1.9456, delta.Quantile(0.99)!.Value, 10);
        // p50: rank 50, in the 1.024 bucket (40 below, 50 in it): 0.512 + 0.512 * 10 / 50 = 0.6144 s.
        Assert.Equal(0.6144, delta.Quantile(0.5)!.Value, 10);
    }

    [Fact]
    public void P99_since_start_uses_the_whole_histogram()
    {
        // rank = 0.99 * 110 = 108.9, in the 2.048 bucket (100 below, 10 in it): 1.024 + 1.024 * 8.9 / 10 = 1.93536 s.
        Assert.Equal(1.93536, Wal(After).Quantile(0.99)!.Value, 10);
        // The rank in the first bucket interpolates from 0: p10 of the first sample = rank 1, 0 + 0.256 * 1 / 5 = 0.0512 s.
        Assert.Equal(0.0512, Wal(Before).Quantile(0.1)!.Value, 10);
    }

    [Fact]
    public void Quantile_edge_cases_follow_histogram_quantile()
    {
        // No observation in the window: NaN in Prometheus, null here.
        Assert.Null(Wal(Before).Since(Wal(Before)).Quantile(0.99));
        // A rank beyond the highest finite bucket gives that bucket's bound.
        var overflow = PrometheusMetrics.Parse("h_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 100\n").Histogram("h");
        Assert.Equal(2, overflow.Quantile(0.99));
        // A counter reset (the member restarted between the samples) counts the later sample from zero.
        Assert.Equal(10, Wal(Before).Since(Wal(After)).Total);
    }

    [Fact]
    public void Rules_over_two_samples_give_critical_fsync_leader_changes_and_slow_peers()
    {
        var members = new[]
        {
            new EtcdMemberStatus { Id = "cf1d15c5d194b5c9", Name = "etcd0", Endpoint = "http://127.0.0.1:1", LeaderId = "cf1d15c5d194b5c9", IsLeader = true, Healthy = true, Version = "3.5.16" },
            new EtcdMemberStatus { Id = "ade526d28b1f92f7", Name = "etcd1", Endpoint = null, Error = "its container is not running", Version = "3.5.16" },
        };
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var first = new[] { new MemberMetricsSample("etcd0", PrometheusMetrics.Parse(Before), t0, null) };
        var second = new[] { new MemberMetricsSample("etcd0", PrometheusMetrics.Parse(After), t0.AddSeconds(60), null) };
        var target = new EtcdHealthTarget("prod", "-Cluster prod");
        var verdicts = EtcdHealthRules.Evaluate(members, first, second, target).ToList();

        var wal = Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.WalFsync);
        Assert.Equal(EtcdHealthSeverity.Critical, wal.Severity);
        Assert.Equal(1.9456, wal.Value!.Value, 10);
        Assert.Equal(1, wal.Threshold);
        Assert.Equal("etcd0", wal.Member);
        Assert.Equal("Measure-EtcdDisk -Cluster prod", wal.Advice);

        // 6 - 1 = 5 leader changes in 60 s (>= 4 in 15 min).
        var changes = Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.LeaderChanges);
        Assert.Equal(EtcdHealthSeverity.Warning, changes.Severity);
        Assert.Equal(5, changes.Value);

        // Round trip to etcd1: delta 0.2048 bucket 10 of 10, rank 9.9: 0.1024 + 0.1024 * 9.9 / 10 = 0.203776 s > 0.15 s, named by etcd1.
        var peer = Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.PeerRoundTrip);
        Assert.Equal(EtcdHealthSeverity.Warning, peer.Severity);
        Assert.Equal(0.203776, peer.Value!.Value, 10);
        Assert.Contains("etcd1", peer.Message);

        var down = Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.MemberDown);
        Assert.Equal(("etcd1", EtcdHealthSeverity.Critical), (down.Member, down.Severity));
        // Every rule of the metrics and versions is reported, those without a finding as Ok.
        Assert.Equal(EtcdHealthSeverity.Ok, Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.NoLeader).Severity);
        Assert.Equal(EtcdHealthSeverity.Ok, Assert.Single(verdicts, v => v.Rule == EtcdHealthRules.EndOfLife).Severity);
        Assert.Equal(11, verdicts.Select(v => v.Rule).Distinct().Count());
    }

    [Theory]
    [InlineData("3.4.23", true)]
    [InlineData("3.5.16", false)]
    [InlineData("3.6.4", false)]
    public void End_of_life_is_before_3_5(string version, bool eol) => Assert.Equal(eol, EtcdHealthRules.IsEndOfLife(version));
}
