using System.Text.Json;
using Docker.DotNet.Models;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Clusters;
using K3dEtcd.Members;

namespace K3dEtcd.Tests;

/// <summary>High-availability drills against real members: stop, start, partition, grow and shrink.</summary>
[Collection(DockerServicesCollection.Name)]
public sealed class EtcdMemberServiceTests(DockerFixture fx)
{
    private EtcdMemberService Members(TimeSpan? timeout = null) => new(fx.Service(), NullOperationLog.Instance) { Timeout = timeout ?? TimeSpan.FromSeconds(60) };

    [Fact]
    public async Task Leader_kill_elects_a_new_leader_in_time_and_no_key_is_lost_then_a_stopped_follower_catches_up()
    {
        var spec = fx.Spec("leader");
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        var service = Members();
        var allEndpoints = cluster.Endpoints;

        // Keys before, through our client over every endpoint.
        using (var before = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = allEndpoints }))
        {
            for (var i = 0; i < 20; i++) await Put(before, $"/ha/before/{i:D2}", $"{i}");
        }

        var leader = await service.FindLeaderAsync(cluster, CancellationToken.None);
        AssertLeaderPerEtcdctl(cluster.Members.Select(m => m.ClientUrl!), leader.Id);
        var stop = await service.StopMemberAsync(cluster, leader, kill: true, CancellationToken.None);
        Assert.True(stop.WasLeader);
        Assert.Equal("exited", stop.Member.State);
        Assert.NotNull(stop.NewLeaderId);
        Assert.NotEqual(leader.Id, stop.NewLeaderId);
        // etcd's default election timeout is 1000 ms (randomised up to 2x); a few of them at most, even on a busy machine.
        Assert.True(stop.LeaderAfter < TimeSpan.FromSeconds(6), $"new leader after {stop.LeaderAfter}");
        var rest = cluster.Members.Where(m => m.Name != leader.Name).Select(m => m.ClientUrl!).ToArray();
        AssertLeaderPerEtcdctl(rest, stop.NewLeaderId!);

        // The same client configuration (all three endpoints, one dead) keeps working.
        using (var after = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = allEndpoints, Timeout = TimeSpan.FromSeconds(5) }))
        {
            for (var i = 0; i < 20; i++) await Put(after, $"/ha/after/{i:D2}", $"{i}");
        }
        foreach (var endpoint in rest)
        {
            var keys = Cli.Run("etcdctl", "--endpoints", endpoint, "get", "/ha/", "--prefix", "--keys-only");
            Assert.Equal(0, keys.ExitCode);
            Assert.Equal(40, keys.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }

        // The old leader comes back with its data and catches up.
        var started = (await service.StartMembersAsync(cluster, [leader], CancellationToken.None)).Single();
        Assert.Equal("running", started.State);
        AssertSameRevision(await fx.Service().GetAsync(spec.Name, CancellationToken.None));

        // Follower: stopped gracefully, writes meanwhile, started: same revision as the others.
        var now = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        var newLeader = await service.FindLeaderAsync(now, CancellationToken.None);
        var follower = now.Members.First(m => m.Name != newLeader.Name);
        var followerStop = await service.StopMemberAsync(now, follower, kill: false, CancellationToken.None);
        Assert.False(followerStop.WasLeader);
        var live = now.Members.Where(m => m.Name != follower.Name).Select(m => m.ClientUrl!).ToArray();
        for (var i = 0; i < 30; i++) Assert.Equal(0, Cli.Run("etcdctl", "--endpoints", string.Join(',', live), "put", $"/ha/while-away/{i:D2}", "x").ExitCode);
        await service.StartMembersAsync(now, [follower], CancellationToken.None);
        var final = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(EtcdClusterState.Running, final.State);
        AssertSameRevision(final);
        var back = final.Members.Single(m => m.Name == follower.Name);
        var read = Cli.Run("etcdctl", "--endpoints", back.ClientUrl!, "get", "/ha/", "--prefix", "--keys-only", "--consistency=s");
        Assert.Equal(70, read.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        await fx.Service().RemoveAsync(spec.Name, false, CancellationToken.None);
    }

    [Fact]
    public async Task Add_then_remove_members_agrees_with_etcdctl_and_five_members_tolerate_two_stopped()
    {
        var spec = fx.Spec("grow");
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        var service = Members();

        var added3 = await service.AddMemberAsync(spec.Name, CancellationToken.None);
        Assert.Equal($"{spec.Name}3", added3.Name);
        var four = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(4, four.Size);
        AssertMemberListMatches(four);
        var labels = JsonDocument.Parse(Cli.Run("docker", "inspect", added3.ContainerName).Output).RootElement[0].GetProperty("Config").GetProperty("Labels");
        Assert.Equal(spec.Name, labels.GetProperty("io.k3detcd.cluster").GetString());
        Assert.Equal("3", labels.GetProperty("io.k3detcd.member-index").GetString());
        Assert.Equal(added3.Id, labels.GetProperty("io.k3detcd.member-id").GetString());
        Assert.Contains("--initial-cluster-state existing", string.Join(' ', JsonDocument.Parse(Cli.Run("docker", "inspect", added3.ContainerName).Output).RootElement[0].GetProperty("Config").GetProperty("Cmd").EnumerateArray().Select(e => e.GetString())));

        await service.AddMemberAsync(spec.Name, CancellationToken.None);
        var five = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(5, five.Size);
        AssertMemberListMatches(five);

        // Two of five stopped: the three left keep a quorum and serve; a third stop is refused.
        var leader = await service.FindLeaderAsync(five, CancellationToken.None);
        var twoFollowers = five.Members.Where(m => m.Name != leader.Name).Take(2).ToList();
        EtcdMemberService.EnsureQuorumKept(five, twoFollowers, "Stopping");
        foreach (var m in twoFollowers) await service.StopMemberAsync(five, m, kill: true, CancellationToken.None);
        var degraded = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(EtcdClusterState.Degraded, degraded.State);
        var live = string.Join(',', degraded.Endpoints);
        Assert.Equal(0, Cli.Run("etcdctl", "--endpoints", live, "put", "/five/k", "v").ExitCode);
        Assert.Contains("v", Cli.Run("etcdctl", "--endpoints", live, "get", "/five/k").Output);
        var third = degraded.Members.First(m => m.State == "running" && m.Name != leader.Name);
        var refused = Assert.Throws<K3dEtcdException>(() => EtcdMemberService.EnsureQuorumKept(degraded, [third], "Stopping"));
        Assert.Equal("QuorumLoss", refused.ErrorId);
        Assert.Equal(FailureKind.InvalidOperation, refused.Kind);
        await service.StartMembersAsync(degraded, twoFollowers, CancellationToken.None);

        // Shrink back: member remove first, then container and volume.
        foreach (var name in new[] { $"{spec.Name}4", $"{spec.Name}3" })
        {
            await service.RemoveMemberAsync(spec.Name, name, CancellationToken.None);
            var now = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
            Assert.DoesNotContain(now.Members, m => m.Name == name);
            AssertMemberListMatches(now);
            Assert.Equal("", Cli.Run("docker", "ps", "-aq", "--filter", $"name=^{name}$").Output.Trim());
            Assert.Equal("", Cli.Run("docker", "volume", "ls", "-q", "--filter", $"name=^{name}-data$").Output.Trim());
        }
        var three = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(3, three.Size);
        Assert.Equal(cluster.Members.Select(m => m.Id), three.Members.Select(m => m.Id));
        Assert.Contains("v", Cli.Run("etcdctl", "--endpoints", string.Join(',', three.Endpoints), "get", "/five/k").Output);

        await fx.Service().RemoveAsync(spec.Name, false, CancellationToken.None);
    }

    [Fact]
    public async Task Host_ports_survive_a_stop_and_start_and_a_cluster_made_with_ClientPort_grows_on_the_next_port()
    {
        // Two consecutive free ports for a one-member cluster and the member added to it.
        var first = Enumerable.Range(0, 50).Select(_ => DockerAdapter.PickHostPort("127.0.0.1", new HashSet<int>())!.Value)
            .First(p => p < 65535 && IsFree(p + 1));
        var spec = fx.Spec("ports", size: 1) with { ClientPort = first };
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        Assert.Equal($"http://127.0.0.1:{first}", cluster.Members[0].ClientUrl);
        var added = await Members().AddMemberAsync(spec.Name, CancellationToken.None);
        Assert.Equal($"http://127.0.0.1:{first + 1}", added.ClientUrl);

        var free = fx.Spec("freeports", size: 3);
        var before = await fx.Service().CreateAsync(free, CancellationToken.None);
        var bindings = before.Members.Select(m => Cli.Run("docker", "inspect", "-f", "{{(index (index .HostConfig.PortBindings \"2379/tcp\") 0).HostPort}}", m.ContainerName).Output.Trim()).ToList();
        Assert.All(bindings, b => Assert.True(int.TryParse(b, out var port) && port > 0, $"host port '{b}' is fixed in the binding"));
        var member = before.Members[1];
        await Members().StopMemberAsync(before, member, kill: false, CancellationToken.None);
        await Members().StartMembersAsync(before, [member], CancellationToken.None);
        var after = (await fx.Service().GetAsync(free.Name, CancellationToken.None))!;
        Assert.Equal(before.Endpoints, after.Endpoints);
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    [Fact]
    public async Task A_partitioned_member_leaves_the_majority_serving_and_catches_up_after_reconnect()
    {
        var spec = fx.Spec("part");
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        var service = Members();
        var leader = await service.FindLeaderAsync(cluster, CancellationToken.None);
        var isolated = cluster.Members.First(m => m.Name != leader.Name);
        var majority = string.Join(',', cluster.Members.Where(m => m.Name != isolated.Name).Select(m => m.ClientUrl));

        Assert.Equal(0, Cli.Run("docker", "network", "disconnect", cluster.Network, isolated.ContainerName).ExitCode);
        try
        {
            for (var i = 0; i < 25; i++)
            {
                var put = Cli.Run("etcdctl", "--endpoints", majority, "--command-timeout=5s", "put", $"/part/{i:D2}", "x");
                Assert.True(put.ExitCode == 0, put.Output);
            }
            Assert.Equal(25, Cli.Run("etcdctl", "--endpoints", majority, "get", "/part/", "--prefix", "--keys-only").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }
        finally
        {
            Assert.Equal(0, Cli.Run("docker", "network", "connect", cluster.Network, isolated.ContainerName).ExitCode);
        }

        // The published port may differ after the network comes back: read the member again.
        var now = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        var back = now.Members.Single(m => m.Name == isolated.Name);
        await service.WaitForCaughtUpAsync(now, back, "test", CancellationToken.None);
        AssertSameRevision(now);
        Assert.Equal(25, Cli.Run("etcdctl", "--endpoints", back.ClientUrl!, "get", "/part/", "--prefix", "--keys-only", "--consistency=s").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        await fx.Service().RemoveAsync(spec.Name, false, CancellationToken.None);
    }

    [Fact]
    public async Task Cancelling_a_failover_measurement_after_the_kill_starts_the_old_leader_again()
    {
        var spec = fx.Spec("focancel");
        await fx.Service().CreateAsync(spec, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var log = new CancelOnStatus(cts, "waiting for writes to resume");
        var service = new EtcdFailoverService(new EtcdMemberService(fx.Service(log), log), log);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in service.RunAsync(spec.Name, new EtcdFailoverOptions { Iterations = 1 }, cts.Token)) { }
        });
        Assert.True(log.Seen, "the measurement never reached the point after the kill");
        var after = (await fx.Service().GetAsync(spec.Name, CancellationToken.None))!;
        Assert.Equal(EtcdClusterState.Running, after.State);
        // docker ps agrees: all three containers run.
        Assert.Equal(3, Cli.Run("docker", "ps", "-q", "--filter", $"label=io.k3detcd.cluster={spec.Name}").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        await fx.Service().RemoveAsync(spec.Name, false, CancellationToken.None);
    }

    private sealed class CancelOnStatus(CancellationTokenSource cts, string status) : IOperationLog
    {
        public bool Seen { get; private set; }
        public void Verbose(string message) { }
        public void Warning(string message) { }
        public void Progress(OperationProgress progress)
        {
            if (progress.Status.Contains(status, StringComparison.Ordinal)) { Seen = true; cts.Cancel(); }
        }
    }

    [Fact]
    public void Quorum_sizes_are_etcds()
    {
        Assert.Equal([1, 2, 2, 3, 3, 4, 4, 5, 5], Enumerable.Range(1, 9).Select(EtcdMemberService.Quorum));
        Assert.True(EtcdMemberService.SupportsLearners("3.4.23"));
        Assert.False(EtcdMemberService.SupportsLearners("3.3.27"));
        Assert.Equal(2.5, EtcdFailoverService.Median([1, 4, 2, 3]));
        Assert.Equal("/a0", EtcdFailoverService.PrefixEnd("/a/"));
    }

    private static async Task Put(EtcdConnection c, string key, string value) =>
        await c.CallAsync("put", o => c.Grpc.KVClient.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) }, o), CancellationToken.None);

    /// <summary>etcdctl endpoint status -w json on every member: one revision, one leader.</summary>
    private static void AssertSameRevision(EtcdCluster? cluster) => Eventually(() => AssertSameRevisionNow(cluster));

    private static void AssertSameRevisionNow(EtcdCluster? cluster)
    {
        Assert.NotNull(cluster);
        var status = Cli.Run("etcdctl", "--endpoints", string.Join(',', cluster!.Endpoints), "endpoint", "status", "-w", "json");
        Assert.True(status.ExitCode == 0, status.Output);
        var entries = JsonDocument.Parse(status.Output).RootElement.EnumerateArray().Select(e => e.GetProperty("Status")).ToList();
        Assert.Equal(cluster.Size, entries.Count);
        Assert.Single(entries.Select(e => e.GetProperty("header").GetProperty("revision").GetInt64()).Distinct());
        Assert.Single(entries.Select(e => e.GetProperty("leader").GetUInt64()).Distinct());
    }

    /// <summary>Followers learn of a new leader or revision a heartbeat (100 ms) later: allow a few seconds.</summary>
    private static void Eventually(Action assertion)
    {
        var until = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            try { assertion(); return; }
            catch (Exception) when (DateTime.UtcNow < until) { Thread.Sleep(200); }
        }
    }

    private static void AssertLeaderPerEtcdctl(IEnumerable<string> endpoints, string leaderHex) => Eventually(() => AssertLeaderNow(endpoints, leaderHex));

    private static void AssertLeaderNow(IEnumerable<string> endpoints, string leaderHex)
    {
        var status = Cli.Run("etcdctl", "--endpoints", string.Join(',', endpoints), "endpoint", "status", "-w", "json");
        Assert.True(status.ExitCode == 0, status.Output);
        foreach (var e in JsonDocument.Parse(status.Output).RootElement.EnumerateArray())
        {
            Assert.Equal(leaderHex, e.GetProperty("Status").GetProperty("leader").GetUInt64().ToString("x"));
        }
    }

    /// <summary>etcdctl member list agrees with the cluster object rebuilt from Docker: names, IDs, no learner left.</summary>
    private static void AssertMemberListMatches(EtcdCluster cluster)
    {
        var list = Cli.Run("etcdctl", "--endpoints", string.Join(',', cluster.Endpoints), "member", "list", "-w", "json");
        Assert.True(list.ExitCode == 0, list.Output);
        var members = JsonDocument.Parse(list.Output).RootElement.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(
            cluster.Members.ToDictionary(m => m.Name, m => m.Id),
            members.ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("ID").GetUInt64().ToString("x")));
        Assert.DoesNotContain(members, m => m.TryGetProperty("isLearner", out var l) && l.GetBoolean());
    }
}
