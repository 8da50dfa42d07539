// Long because: every data-plane case shares one pair of clusters (plain and TLS) through the class fixture; splitting the file would start them twice.
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// The data-plane services against real etcd containers, cross-checked with etcdctl and curl.
/// One healthy cluster is shared by the read/write tests; tests that stop or restart members
/// make their own.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdDataPlaneTests(DockerFixture fx)
{
    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static EtcdCluster? _shared;
    private static EtcdCluster? _sharedTls;
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>
    /// A healthy 3-member cluster shared by the tests that do not disturb it (swept by the fixture);
    /// with <paramref name="tls"/> a -Tls cluster, so the same tests prove the data plane over https
    /// with the cluster's client certificate.
    /// </summary>
    private async Task<EtcdCluster> SharedAsync(bool tls = false)
    {
        await SharedGate.WaitAsync();
        try
        {
            return tls
                ? _sharedTls ??= await fx.Service().CreateAsync(fx.Spec("dpsharedtls") with { Tls = true }, None)
                : _shared ??= await fx.Service().CreateAsync(fx.Spec("dpshared"), None);
        }
        finally { SharedGate.Release(); }
    }

    /// <summary>etcdctl's TLS flags for a TLS cluster (none for a plain one).</summary>
    private static string[] TlsArgs(EtcdCluster c) =>
        c.Tls is { } t ? ["--cacert", t.CaFile, "--cert", t.ClientCertFile, "--key", t.ClientKeyFile] : [];

    private static EtcdConnection Connect(EtcdCluster c, int timeoutSeconds = 10) =>
        EtcdConnection.Open(EtcdConnectionOptions.FromCluster(c, TimeSpan.FromSeconds(timeoutSeconds)));

    private static JsonElement EtcdctlJson(EtcdCluster c, string endpoints, params string[] args)
    {
        var r = Cli.Run("etcdctl", ["--endpoints", endpoints, .. TlsArgs(c), .. args, "-w", "json"]);
        Assert.True(r.ExitCode == 0, r.Output);
        return JsonDocument.Parse(r.Output).RootElement.Clone();
    }

    private static string B64(JsonElement e) => Encoding.UTF8.GetString(Convert.FromBase64String(e.GetString()!));

    private static async Task<List<EtcdKeyValue>> ToListAsync(IAsyncEnumerable<EtcdKeyValue> source)
    {
        var list = new List<EtcdKeyValue>();
        await foreach (var kv in source) list.Add(kv);
        return list;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Keys_written_by_either_client_are_read_by_the_other_with_equal_revisions(bool tls)
    {
        var c = await SharedAsync(tls);
        using var conn = Connect(c);
        var keys = new EtcdKeyService(conn);
        var prefix = $"/xcheck-{Guid.NewGuid():N}/";

        var written = await keys.PutBatchAsync([new EtcdPut(prefix + "ours", "héllo"u8.ToArray().Length > 0 ? Encoding.UTF8.GetBytes("héllo") : [])], None);
        var ctl = EtcdctlJson(c, string.Join(',', c.Endpoints), "get", prefix + "ours");
        var kv = ctl.GetProperty("kvs")[0];
        Assert.Equal("héllo", B64(kv.GetProperty("value")));
        Assert.Equal(written[0].ModRevision, kv.GetProperty("mod_revision").GetInt64());
        Assert.Equal(written[0].CreateRevision, kv.GetProperty("create_revision").GetInt64());
        Assert.Equal(1, kv.GetProperty("version").GetInt64());

        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", c.Endpoints[1], .. TlsArgs(c), "put", prefix + "theirs", "from etcdctl"]).ExitCode);
        var theirs = EtcdctlJson(c, c.Endpoints[1], "get", prefix + "theirs").GetProperty("kvs")[0];
        // Every member returns the same value and revisions.
        foreach (var endpoint in c.Endpoints)
        {
            using var one = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(c).ForEndpoint(endpoint));
            var got = Assert.Single(await ToListAsync(new EtcdKeyService(one).GetAsync(new EtcdKeyQuery { Key = prefix + "theirs" }, None)));
            Assert.Equal(("from etcdctl", 12L), (got.Value, got.ByteLength!.Value));
            Assert.Equal(theirs.GetProperty("mod_revision").GetInt64(), got.ModRevision);
            Assert.Equal(theirs.GetProperty("create_revision").GetInt64(), got.CreateRevision);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Paged_reads_stream_every_key_in_order_at_one_revision_and_respect_limits(bool tls)
    {
        var c = await SharedAsync(tls);
        using var conn = Connect(c);
        var keys = new EtcdKeyService(conn);
        var prefix = $"/paged-{Guid.NewGuid():N}/";
        var puts = Enumerable.Range(0, 2500).Select(i => new EtcdPut($"{prefix}{i:D5}", Encoding.UTF8.GetBytes(i.ToString()))).ToList();
        var written = await keys.PutBatchAsync(puts, None);
        // 128 puts per transaction: revisions rise once per transaction, never go back.
        Assert.Equal(Math.Ceiling(2500 / 128.0), written.Select(w => w.ModRevision).Distinct().Count());
        Assert.True(written.Zip(written.Skip(1)).All(p => p.First.ModRevision <= p.Second.ModRevision));

        var seen = new List<EtcdKeyValue>();
        await foreach (var kv in keys.GetAsync(new EtcdKeyQuery { Key = prefix, Prefix = true, PageSize = 1000 }, None))
        {
            seen.Add(kv);
            // A key written after the first page must not show up: every page is read at the first page's revision.
            if (seen.Count == 1) await keys.PutBatchAsync([new EtcdPut(prefix + "99999-late", [1])], None);
        }
        Assert.Equal(puts.Select(p => p.Key), seen.Select(s => s.Key));
        Assert.Equal(written.Select(w => w.ModRevision), seen.Select(s => s.ModRevision));

        var count = EtcdctlJson(c, c.Endpoints[0], "get", prefix, "--prefix", "--keys-only").GetProperty("count").GetInt64();
        Assert.Equal(2501, count);
        Assert.Equal(2501, await keys.CountAsync(new EtcdKeyQuery { Key = prefix, Prefix = true }, None));

        var limited = await ToListAsync(keys.GetAsync(new EtcdKeyQuery { Key = prefix, Prefix = true, Limit = 1234, PageSize = 500, KeysOnly = true }, None));
        Assert.Equal(puts.Take(1234).Select(p => p.Key), limited.Select(l => l.Key));
        Assert.All(limited, l => Assert.Null(l.Value));

        var fromKey = await ToListAsync(keys.GetAsync(new EtcdKeyQuery { Key = $"{prefix}02498", FromKey = true, Limit = 3 }, None));
        Assert.Equal([$"{prefix}02498", $"{prefix}02499", $"{prefix}99999-late"], fromKey.Select(k => k.Key));

        // Reading at an old revision sees the old value (etcdctl --rev agrees).
        var old = written[0].ModRevision;
        await keys.PutBatchAsync([new EtcdPut(puts[0].Key, "changed"u8.ToArray())], None);
        var atOld = Assert.Single(await ToListAsync(keys.GetAsync(new EtcdKeyQuery { Key = puts[0].Key, Revision = old }, None)));
        Assert.Equal("0", atOld.Value);
        Assert.Equal("0", B64(EtcdctlJson(c, c.Endpoints[0], "get", puts[0].Key, $"--rev={old}").GetProperty("kvs")[0].GetProperty("value")));

        var deleted = await keys.DeleteBatchAsync([new EtcdKeyService.EtcdDelete(prefix, Prefix: true)], returnKeys: false, None);
        Assert.Equal(2501, deleted[0].Count);
        // etcdctl omits "count" when it is zero.
        Assert.False(EtcdctlJson(c, c.Endpoints[0], "get", prefix, "--prefix", "--keys-only").TryGetProperty("count", out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Members_and_leader_match_etcdctl(bool tls)
    {
        var c = await SharedAsync(tls);
        using var conn = Connect(c);
        var members = await new EtcdClusterStatusService(conn).GetMembersAsync(c.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
        var list = EtcdctlJson(c, c.Endpoints[0], "member", "list").GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.GetProperty("ID").GetUInt64().ToString("x"), m => m.GetProperty("name").GetString());
        Assert.Equal(list.OrderBy(p => p.Key), members.ToDictionary(m => m.Id, m => (string?)m.Name).OrderBy(p => p.Key));

        var status = EtcdctlJson(c, string.Join(',', c.Endpoints), "endpoint", "status").EnumerateArray().ToList();
        var leader = status[0].GetProperty("Status").GetProperty("leader").GetUInt64().ToString("x");
        Assert.Equal(leader, Assert.Single(members, m => m.IsLeader).Id);
        foreach (var s in status)
        {
            var st = s.GetProperty("Status");
            var m = Assert.Single(members, m => m.Endpoint == s.GetProperty("Endpoint").GetString());
            Assert.Equal(st.GetProperty("header").GetProperty("member_id").GetUInt64().ToString("x"), m.Id);
            Assert.Equal(st.GetProperty("raftTerm").GetInt64(), m.RaftTerm);
            Assert.Equal("3.4.23", m.Version);
            Assert.True(m.Healthy, m.Error);
            Assert.True(m.DbSize > 0);
        }

        var health = await new EtcdClusterStatusService(conn).TestAsync(null, None);
        Assert.Equal(3, health.Count(h => h.Healthy));
        Assert.True(EtcdClusterStatusService.IsQuorate(health));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Watch_streams_puts_and_deletes_in_order_with_previous_values(bool tls)
    {
        var c = await SharedAsync(tls);
        using var conn = Connect(c);
        var prefix = $"/watch-{Guid.NewGuid():N}/";
        var channel = Channel.CreateUnbounded<EtcdWatchEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watching = new EtcdWatchService(conn).WatchAsync(new EtcdWatchRequest { Key = prefix, Prefix = true }, channel.Writer, cts.Token);
        await WaitForWatcherAsync(c.Endpoints, c.Tls);

        var ctl = string.Join(',', c.Endpoints);
        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", ctl, .. TlsArgs(c), "put", prefix + "a", "1"]).ExitCode);
        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", ctl, .. TlsArgs(c), "put", prefix + "a", "2"]).ExitCode);
        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", ctl, .. TlsArgs(c), "put", prefix + "b", "3"]).ExitCode);
        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", ctl, .. TlsArgs(c), "del", prefix + "a"]).ExitCode);
        Assert.Equal(0, Cli.Run("etcdctl", ["--endpoints", ctl, .. TlsArgs(c), "put", "/outside" + prefix, "x"]).ExitCode);

        var events = new List<EtcdWatchEvent>();
        while (events.Count < 4) events.Add(await channel.Reader.ReadAsync(cts.Token));
        Assert.Equal(
            [(EtcdWatchEventType.Put, "a", "1", null), (EtcdWatchEventType.Put, "a", "2", "1"), (EtcdWatchEventType.Put, "b", "3", null), (EtcdWatchEventType.Delete, "a", null, "2")],
            events.Select(e => (e.Type, e.Key[prefix.Length..], e.Value, e.PreviousValue)));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.Second.ModRevision == p.First.ModRevision + 1));
        cts.Cancel();
        await watching;
        Assert.True(channel.Reader.Completion.IsCanceled || channel.Reader.Completion.IsFaulted);
    }

    /// <summary>The member holding our watch, found through etcd's own watcher gauge.</summary>
    private static async Task<string> WaitForWatcherAsync(IEnumerable<string> endpoints, EtcdTlsInfo? tls = null)
    {
        using var http = tls is null
            ? new HttpClient { Timeout = TimeSpan.FromSeconds(5) }
            : new HttpClient(K3dEtcd.Pki.TlsClientFactory.CreateHandler(tls.CaFile, tls.ClientCertFile, tls.ClientKeyFile)) { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 100; i++)
        {
            foreach (var e in endpoints)
            {
                var metrics = await http.GetStringAsync(e + "/metrics");
                var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("etcd_debugging_mvcc_watcher_total ", StringComparison.Ordinal));
                if (line is not null && double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0) return e;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("no member reports a watcher");
    }

    [Fact]
    public async Task A_member_down_stops_nothing_is_listed_honestly_and_a_watch_resumes_after_a_restart()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("dpdown"), None);
        try
        {
            using var conn = Connect(cluster);
            var keys = new EtcdKeyService(conn);
            var status = new EtcdClusterStatusService(conn);

            // Watch resumes: restart the member that serves the watch, keep writing, lose and repeat nothing.
            var channel = Channel.CreateUnbounded<EtcdWatchEvent>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var watching = new EtcdWatchService(conn).WatchAsync(new EtcdWatchRequest { Key = "/resume/", Prefix = true }, channel.Writer, cts.Token);
            var serving = await WaitForWatcherAsync(cluster.Endpoints);
            var servingMember = cluster.Members.Single(m => m.ClientUrl == serving);
            var other = cluster.Endpoints.First(e => e != serving);
            Cli.Run("etcdctl", "--endpoints", other, "put", "/resume/1", "before");
            Assert.Equal(0, Cli.Run("docker", "restart", "-t", "2", servingMember.ContainerName).ExitCode);
            for (var i = 2; i <= 4; i++) Assert.Equal(0, Cli.Run("etcdctl", "--endpoints", other, "put", $"/resume/{i}", "after").ExitCode);
            var events = new List<EtcdWatchEvent>();
            while (events.Count < 4) events.Add(await channel.Reader.ReadAsync(cts.Token));
            Assert.Equal(["/resume/1", "/resume/2", "/resume/3", "/resume/4"], events.Select(e => e.Key));
            Assert.True(events.Zip(events.Skip(1)).All(p => p.Second.ModRevision == p.First.ModRevision + 1));
            cts.Cancel();
            await watching;

            // Stop a follower; the connection still lists all three (stale) endpoints.
            var fresh = (await fx.Service().GetAsync(cluster.Name, None))!;
            var members = await status.GetMembersAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            var follower = fresh.Members.First(m => !members.Single(s => s.Name == m.Name).IsLeader);
            Assert.Equal(0, Cli.Run("docker", "stop", "-t", "1", follower.ContainerName).ExitCode);
            fresh = (await fx.Service().GetAsync(cluster.Name, None))!;
            using var conn2 = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = [.. fresh.Endpoints, follower.ClientUrl!], Timeout = TimeSpan.FromSeconds(10) });
            var keys2 = new EtcdKeyService(conn2);
            for (var i = 0; i < 6; i++) await keys2.PutBatchAsync([new EtcdPut($"/down/{i}", [1])], None); // round-robin passes the dead one
            Assert.Equal(6, await keys2.CountAsync(new EtcdKeyQuery { Key = "/down/", Prefix = true }, None));

            var listed = await new EtcdClusterStatusService(conn2).GetMembersAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            Assert.Equal(3, listed.Count);
            var down = Assert.Single(listed, m => !m.Healthy);
            Assert.Equal(follower.Name, down.Name);
            Assert.Contains("not running", down.Error);
            // Without the cluster model (plain endpoints) the stopped member is still listed, with the failing probe as the reason.
            var byEndpoint = await new EtcdClusterStatusService(conn2).GetMembersAsync(null, None);
            var down2 = Assert.Single(byEndpoint, m => !m.Healthy);
            Assert.Equal(follower.Name, down2.Name);
            Assert.False(string.IsNullOrEmpty(down2.Error));

            var health = await new EtcdClusterStatusService(conn2).TestAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            Assert.Equal(2, health.Count(h => h.Healthy));
            Assert.True(EtcdClusterStatusService.IsQuorate(health));

            // Leader stats from metrics: both followers still there, the stopped one unreachable, its send failures counted.
            EtcdLeaderStats stats;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            do
            {
                stats = await new EtcdClusterStatusService(conn2).GetLeaderStatsAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
                if (stats.Followers.Single(f => f.Name == follower.Name).Counts.Fail > 0) break;
                // Writes make the leader send appends to the stopped follower; failed sends are what the counter counts.
                await new EtcdKeyService(conn2).PutBatchAsync([new EtcdPut("/down/traffic", System.Text.Encoding.UTF8.GetBytes(DateTime.UtcNow.ToString("o")))], None);
                await Task.Delay(500);
            } while (DateTime.UtcNow < deadline);
            Assert.Equal("metrics", stats.Source);
            Assert.Equal(2, stats.Followers.Length);
            var stopped = stats.Followers.Single(f => f.Name == follower.Name);
            Assert.False(stopped.Reachable);
            // The count is what the leader's own /metrics says (read with curl), never invented. etcd 3.4
            // counts only some failed sends, so under load it can still be 0 after 20 s: compare, don't demand.
            // Read curl before and after one more module call: counters only grow, so before <= value <= after
            // (a module that always said 0 or nothing would fail as soon as etcd counted one failure).
            var leaderUrl = fresh.Members.Single(m => m.Name == stats.LeaderName).ClientUrl!;
            long? CurlFailures()
            {
                var metrics = Cli.Run("curl", "-s", $"{leaderUrl}/metrics").Output;
                var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("etcd_network_peer_sent_failures_total", StringComparison.Ordinal) && l.Contains($"To=\"{stopped.Id}\""));
                return line is null ? null : long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
            var before = CurlFailures();
            stats = await new EtcdClusterStatusService(conn2).GetLeaderStatsAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            stopped = stats.Followers.Single(f => f.Name == follower.Name);
            var after = CurlFailures();
            if (after is null)
            {
                Assert.Null(stopped.Counts.Fail); // etcd has no such series yet: nothing is invented
            }
            else
            {
                Assert.NotNull(stopped.Counts.Fail);
                Assert.InRange(stopped.Counts.Fail!.Value, before ?? 0, after.Value);
            }
            Assert.Null(stopped.Counts.Success);
            var alive = stats.Followers.Single(f => f.Name != follower.Name);
            Assert.True(alive.Reachable);

            // Quorum lost: the quiet test says so, members are still all listed.
            var second = fresh.Members.First(m => m.Name != follower.Name && m.Name != stats.LeaderName);
            Assert.Equal(0, Cli.Run("docker", "stop", "-t", "1", second.ContainerName).ExitCode);
            using var conn3 = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = fresh.Endpoints, Timeout = TimeSpan.FromSeconds(5) });
            var noQuorum = await new EtcdClusterStatusService(conn3).TestAsync(null, None);
            Assert.False(EtcdClusterStatusService.IsQuorate(noQuorum));
        }
        finally
        {
            await fx.Service().RemoveAsync(cluster.Name, keepData: false, None);
        }
    }

    [Fact]
    public async Task V2_leader_stats_match_curl_and_show_a_stopped_follower()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("dpv2") with { EnableV2 = true }, None);
        try
        {
            using var conn = Connect(cluster);
            var service = new EtcdClusterStatusService(conn);
            var hosts = cluster.Members.ToDictionary(m => m.Name, m => m.ClientUrl);
            // Ask through each member first: the answer is the same wherever we start.
            foreach (var endpoint in cluster.Endpoints)
            {
                using var one = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = [endpoint] });
                var s = await new EtcdClusterStatusService(one).GetLeaderStatsAsync(hosts, None);
                Assert.Equal("v2", s.Source);
            }
            var firstLeader = (await service.GetLeaderStatsAsync(hosts, None)).Endpoint!;
            var curlFirst = JsonDocument.Parse(Cli.Run("curl", "-s", firstLeader + "/v2/stats/leader").Output).RootElement;
            var stats = await service.GetLeaderStatsAsync(hosts, None);
            var leaderUrl = stats.Endpoint!;
            Assert.Equal(firstLeader, leaderUrl);
            var curl = JsonDocument.Parse(Cli.Run("curl", "-s", leaderUrl + "/v2/stats/leader").Output).RootElement;
            Assert.Equal(curl.GetProperty("leader").GetString(), stats.LeaderId);
            var curlFollowers = curl.GetProperty("followers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
            Assert.Equal(curlFollowers.Keys.Order(), stats.Followers.Select(f => f.Id).Order());
            foreach (var f in stats.Followers) AssertV2LatencyInSeconds(f, curlFirst.GetProperty("followers").GetProperty(f.Id), curlFollowers[f.Id]);
            // A follower is refused by etcd itself (403 "not current leader"), so we must have found the leader.
            var followerUrl = cluster.Endpoints.First(e => e != leaderUrl);
            Assert.Contains("403", Cli.Run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", followerUrl + "/v2/stats/leader").Output);

            var victim = cluster.Members.First(m => m.ClientUrl != leaderUrl);
            Assert.Equal(0, Cli.Run("docker", "stop", "-t", "1", victim.ContainerName).ExitCode);
            var fresh = (await fx.Service().GetAsync(cluster.Name, None))!;
            using var conn2 = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(fresh));
            // etcd 3.4 counts v2 "fail"/"success" only for pipeline posts (not the streams that carry steady-state
            // traffic), so a stopped follower may well show 0 fails. We report exactly what etcd reports, plus Reachable.
            await Task.Delay(1000);
            var first = await new EtcdClusterStatusService(conn2).GetLeaderStatsAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            await Task.Delay(2000);
            var curlBefore = JsonDocument.Parse(Cli.Run("curl", "-s", first.Endpoint + "/v2/stats/leader").Output).RootElement.GetProperty("followers");
            var after = await new EtcdClusterStatusService(conn2).GetLeaderStatsAsync(fresh.Members.ToDictionary(m => m.Name, m => m.ClientUrl), None);
            var curlAfter = JsonDocument.Parse(Cli.Run("curl", "-s", after.Endpoint + "/v2/stats/leader").Output).RootElement.GetProperty("followers");
            long Count(JsonElement followers, string id, string what) => followers.GetProperty(id).GetProperty("counts").GetProperty(what).GetInt64();
            Assert.Equal("v2", after.Source);
            Assert.Equal(2, after.Followers.Length);
            var stopped = after.Followers.Single(f => f.Name == victim.Name);
            Assert.False(stopped.Reachable);
            var curlStopped = curlAfter.GetProperty(stopped.Id).GetProperty("counts");
            Assert.InRange(stopped.Counts.Fail!.Value, Count(curlBefore, stopped.Id, "fail"), curlStopped.GetProperty("fail").GetInt64());
            Assert.Equal(first.Followers.Single(f => f.Name == victim.Name).Counts.Success, stopped.Counts.Success);
            Assert.Equal(curlStopped.GetProperty("success").GetInt64(), stopped.Counts.Success);
            var alive = after.Followers.Single(f => f.Name != victim.Name);
            Assert.True(alive.Reachable);
            Assert.True(alive.Counts.Success > 0, "a live follower has successful appends");
            Assert.InRange(alive.Counts.Success!.Value, Count(curlBefore, alive.Id, "success"), Count(curlAfter, alive.Id, "success"));
            Assert.True(alive.Latency.Average > 0);
        }
        finally
        {
            await fx.Service().RemoveAsync(cluster.Name, keepData: false, None);
        }
    }

    /// <summary>
    /// A follower's latency from the module (seconds) against etcd's v2 JSON (milliseconds: etcd's
    /// FollowerStats.Succ stores float64(d) / 1000000.0 of a time.Duration) read with curl just before
    /// and just after. etcd's minimum only falls and its maximum only rises, so the module's value x 1000
    /// lies between the two reads; current and average lie within the later read's [minimum, maximum];
    /// k new samples move an average of n by at most k*(max-min)/n; with none, every figure is curl's.
    /// </summary>
    private static void AssertV2LatencyInSeconds(EtcdFollowerStats f, JsonElement before, JsonElement after)
    {
        const double eps = 1e-9;
        double L(JsonElement e, string name) => e.GetProperty("latency").GetProperty(name).GetDouble();
        long Success(JsonElement e) => e.GetProperty("counts").GetProperty("success").GetInt64();
        Assert.True(Success(after) > 0, $"{f.Id}: no sample to compare");
        Assert.InRange(f.Latency.Minimum!.Value * 1000, L(after, "minimum") - eps, L(before, "minimum") + eps);
        Assert.InRange(f.Latency.Maximum!.Value * 1000, L(before, "maximum") - eps, L(after, "maximum") + eps);
        Assert.InRange(f.Latency.Current!.Value * 1000, L(after, "minimum") - eps, L(after, "maximum") + eps);
        Assert.InRange(f.Latency.Average!.Value * 1000, L(after, "minimum") - eps, L(after, "maximum") + eps);
        var k = Success(after) - Success(before);
        if (Success(before) > 0)
        {
            var drift = k * (L(after, "maximum") - L(after, "minimum")) / Success(before) + eps;
            Assert.InRange(f.Latency.Average.Value * 1000, L(before, "average") - drift, L(before, "average") + drift);
        }
        if (k == 0)
        {
            Assert.Equal(L(before, "current"), f.Latency.Current.Value * 1000, 9);
            Assert.Equal(L(before, "standardDeviation"), f.Latency.StandardDeviation!.Value * 1000, 9);
        }
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_a_clear_error_within_the_timeout()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var conn = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = [$"http://127.0.0.1:{port}"], Timeout = TimeSpan.FromSeconds(3) });
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => new EtcdKeyService(conn).CountAsync(new EtcdKeyQuery { Key = "/x" }, None));
        Assert.InRange(sw.Elapsed.TotalSeconds, 0, 6);
        Assert.Contains(ex.ErrorId, new[] { "EtcdUnreachable", "EtcdTimeout" });
        Assert.Contains(ex.Kind, new[] { FailureKind.ConnectionError, FailureKind.OperationTimeout });
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
    }
}
