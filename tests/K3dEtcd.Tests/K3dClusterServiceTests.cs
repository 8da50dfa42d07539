using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// The k3d side runs against the fake k3d (no k3d or k3s can run here); the datastore side
/// (pre-flight probe, /registry/ verification, roll-back leaving etcd alone) against real etcd containers.
/// </summary>
[Collection(DockerServicesCollection.Name)]
public sealed class K3dClusterServiceTests(DockerFixture fx)
{
    private static DatastoreTarget Target(EtcdCluster c) => new()
    {
        Endpoint = string.Join(",", c.NetworkEndpoints),
        Kind = DatastoreKind.Etcd,
        Network = c.Network,
        EtcdClusterName = c.Name,
        ProbeImage = c.Image,
    };

    private static K3dClusterSpec Spec(string name, DatastoreTarget ds, string token = "tok-a") => new()
    {
        Name = name,
        Datastore = ds,
        Servers = 3,
        Agents = 5,
        TlsSan = ["192.0.2.10", "k3s.example.test"],
        Token = token,
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static string Etcdctl(EtcdCluster c, params string[] args)
    {
        var r = Cli.Run("etcdctl", ["--endpoints", c.Endpoints[0], .. args]);
        Assert.True(r.ExitCode == 0, r.Output);
        return r.Output;
    }

    private static long Revision(EtcdCluster c) =>
        JsonDocument.Parse(Etcdctl(c, "get", "/", "-w", "json")).RootElement.GetProperty("header").GetProperty("revision").GetInt64();

    private static string K3dName(string stem) => $"{stem}{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Seed_case_creates_on_fake_k3d_v5_with_the_datastore_on_servers_only_and_lists_back()
    {
        using var fake = new FakeK3dHarness();
        var etcd = await fx.Service().CreateAsync(fx.Spec("k3dseed"), CancellationToken.None);
        try
        {
            var name = K3dName("topgun");
            var service = await fake.ServiceAsync(probe: new DatastoreProbe(fx.Adapter(), NullOperationLog.Instance));
            var revisionBefore = Revision(etcd);
            var (info, verified) = await service.CreateAsync(Spec(name, Target(etcd)), new K3dCreateOptions { SkipVerify = true }, CancellationToken.None);

            Assert.NotNull(info);
            Assert.Null(verified);
            Assert.Equal((3, 3, 5, 5), (info!.ServersCount, info.ServersRunning, info.AgentsCount, info.AgentsRunning));
            Assert.Equal(etcd.Network, info.Network);
            Assert.Equal(etcd.Name, info.EtcdClusterLabel);
            Assert.Equal(["192.0.2.10", "k3s.example.test"], info.TlsSans);
            Assert.StartsWith("https://0.0.0.0:", info.ApiEndpoint);

            // What the fake k3d resolved the node filters to: the endpoint reaches every server and no agent.
            var json = (await fake.Cli().RunCheckedAsync(["cluster", "list", name, "-o", "json"], CancellationToken.None)).StandardOutput;
            using var doc = JsonDocument.Parse(json);
            var endpointEnv = $"K3S_DATASTORE_ENDPOINT={string.Join(",", etcd.NetworkEndpoints)}";
            foreach (var node in doc.RootElement[0].GetProperty("nodes").EnumerateArray())
            {
                var env = node.TryGetProperty("env", out var e) ? e.EnumerateArray().Select(x => x.GetString()).ToList() : [];
                Assert.Equal(node.GetProperty("role").GetString() == "server", env.Contains(endpointEnv));
            }

            // The pre-flight probe ran: it wrote and deleted its scratch key (the revision moved by both,
            // and the fake k3d writes nothing), and no key is left (etcdctl cross-check).
            Assert.True(Revision(etcd) >= revisionBefore + 2, $"revision {Revision(etcd)} did not move past {revisionBefore} + 2: the probe did not write");
            Assert.Equal("", Etcdctl(etcd, "get", "/k3detcd/", "--prefix", "--keys-only").Trim());
            var create = Assert.Single(fake.Calls("cluster", "create"));
            Assert.Equal(name, create[2]);
            Assert.Contains("--tls-san=192.0.2.10@server:*", create);

            await service.DeleteAsync(name, CancellationToken.None);
            Assert.Null(await service.GetAsync(name, CancellationToken.None));
            Assert.Equal(EtcdClusterState.Running, (await fx.Service().GetAsync(etcd.Name, CancellationToken.None))!.State);
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_failed_create_is_deleted_with_k3d_and_the_etcd_cluster_is_untouched()
    {
        using var fake = new FakeK3dHarness();
        fake.Environment["FAKE_K3D_FAIL_CREATE"] = "norollback";
        var etcd = await fx.Service().CreateAsync(fx.Spec("k3dfail", size: 1), CancellationToken.None);
        try
        {
            Etcdctl(etcd, "put", "/keep/me", "1");
            var name = K3dName("fail");
            var service = await fake.ServiceAsync(probe: new DatastoreProbe(fx.Adapter(), NullOperationLog.Instance));
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => service.CreateAsync(Spec(name, Target(etcd)), new K3dCreateOptions { SkipVerify = true }, CancellationToken.None));

            Assert.Equal("K3dCreateFailed", ex.ErrorId);
            Assert.Equal(FailureKind.InvalidResult, ex.Kind);
            Assert.Contains("Cluster creation FAILED, also FAILED to rollback changes!", ex.Message);
            Assert.Contains("failed to get ready", ex.Message);
            Assert.Equal(["cluster", "delete", name], Assert.Single(fake.Calls("cluster", "delete")));
            Assert.Null(await service.GetAsync(name, CancellationToken.None));

            var after = await fx.Service().GetAsync(etcd.Name, CancellationToken.None);
            Assert.Equal(etcd.Members.Select(m => m.ContainerId), after!.Members.Select(m => m.ContainerId));
            Assert.Equal(EtcdClusterState.Running, after.State);
            Assert.Equal("/keep/me\n", Etcdctl(etcd, "get", "", "--prefix", "--keys-only").Replace("\n\n", "\n"));
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Ctrl_C_while_k3d_creates_kills_it_and_deletes_the_half_made_cluster()
    {
        using var fake = new FakeK3dHarness();
        fake.Environment["FAKE_K3D_CREATE_DELAY_MS"] = "30000";
        var name = K3dName("cancel");
        using var cts = new CancellationTokenSource();
        var log = new CancelOnVerbose(cts, "k3d: Using the k3d-tools node");
        var service = await fake.ServiceAsync(log);
        var ds = new DatastoreTarget { Endpoint = "http://nowhere-etcd:2379", Kind = DatastoreKind.Etcd };
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            service.CreateAsync(Spec(name, ds), new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, cts.Token));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "cancellation must not wait for k3d to finish");
        Assert.Equal(["cluster", "delete", name], Assert.Single(fake.Calls("cluster", "delete")));
        Assert.Null(await service.GetAsync(name, CancellationToken.None));
    }

    [Fact]
    public async Task Verification_polls_the_datastore_for_registry_keys_and_rolls_back_when_none_appear()
    {
        using var fake = new FakeK3dHarness();
        var etcd = await fx.Service().CreateAsync(fx.Spec("k3dverify", size: 1), CancellationToken.None);
        try
        {
            var service = await fake.ServiceAsync(probe: new DatastoreProbe(fx.Adapter(), NullOperationLog.Instance));
            var first = K3dName("noregistry");
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() =>
                service.CreateAsync(Spec(first, Target(etcd)) with { Timeout = TimeSpan.FromSeconds(5) }, new K3dCreateOptions { SkipPreflight = true }, CancellationToken.None));
            Assert.Equal("DatastoreNotUsed", ex.ErrorId);
            Assert.Equal(FailureKind.OperationTimeout, ex.Kind);
            Assert.Equal(["cluster", "delete", first], Assert.Single(fake.Calls("cluster", "delete")));

            // Standing in for kube-apiserver (the fake runs no k3s): the key k3s writes first.
            Etcdctl(etcd, "put", "/registry/namespaces/default", "k8s\0fake");
            var second = K3dName("registry");
            var (info, verified) = await service.CreateAsync(Spec(second, Target(etcd)), new K3dCreateOptions { SkipPreflight = true }, CancellationToken.None);
            Assert.True(verified);
            Assert.NotNull(info);
            await service.DeleteAsync(second, CancellationToken.None);
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Preflight_refuses_bootstrap_data_made_with_another_token_before_k3d_runs()
    {
        using var fake = new FakeK3dHarness();
        var etcd = await fx.Service().CreateAsync(fx.Spec("k3dboot", size: 1), CancellationToken.None);
        try
        {
            // Bootstrap data as k3s seals it: the right token must also open it, not only hash to its key.
            Etcdctl(etcd, "put", DatastoreProbe.BootstrapKey("token-of-old-cluster"), K3sBootstrapFormat.Encrypt("token-of-old-cluster", "{}"u8.ToArray()));
            var service = await fake.ServiceAsync(probe: new DatastoreProbe(fx.Adapter(), NullOperationLog.Instance));
            var name = K3dName("boot");
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() =>
                service.CreateAsync(Spec(name, Target(etcd), token: "a-new-token"), new K3dCreateOptions { SkipVerify = true }, CancellationToken.None));
            Assert.Equal("DatastoreTokenMismatch", ex.ErrorId);
            Assert.Contains("-Token", ex.Message);
            Assert.Contains("empty datastore", ex.Message);
            Assert.Empty(fake.Calls("cluster", "create"));
            Assert.Empty(fake.Calls("cluster", "delete"));

            var (info, _) = await service.CreateAsync(Spec(name, Target(etcd), token: "token-of-old-cluster"), new K3dCreateOptions { SkipVerify = true }, CancellationToken.None);
            Assert.NotNull(info);
            await service.DeleteAsync(name, CancellationToken.None);
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }

    [Theory]
    [InlineData("v5.8.3", "--k3s-arg")]
    [InlineData("v5.4.9", "--k3s-arg")]
    [InlineData("v4.4.8", "--k3s-server-arg")]
    [InlineData("v3.4.0", "--k3s-server-arg")]
    [InlineData("v3.0.0", "--k3s-server-arg")]
    public async Task The_arguments_built_for_each_version_are_accepted_by_that_version(string version, string argFlag)
    {
        using var fake = new FakeK3dHarness(version);
        var service = await fake.ServiceAsync();
        Assert.Equal(version, service.Version.Text);
        var name = K3dName("ver");
        var ds = new DatastoreTarget { Endpoint = "postgres://k3s:p@ss@db:5432/k3s", Kind = DatastoreKind.Postgres, Network = "dbnet" };
        if (version == "v3.0.0")
        {
            // No JSON listing before v3.4: create works, the result cannot be listed.
            var (none, _) = await service.CreateAsync(Spec(name, ds), new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, CancellationToken.None);
            Assert.Null(none);
        }
        else
        {
            var (info, _) = await service.CreateAsync(Spec(name, ds), new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, CancellationToken.None);
            Assert.Equal("postgres://k3s:***@db:5432/k3s", info!.DatastoreLabel);
            await service.DeleteAsync(name, CancellationToken.None);
        }
        Assert.Contains(argFlag, Assert.Single(fake.Calls("cluster", "create")));
    }

    [Fact]
    public async Task K3d_log_lines_become_progress_and_verbose_without_secrets()
    {
        using var fake = new FakeK3dHarness();
        var log = new RecordingLog();
        var service = await fake.ServiceAsync(log);
        var name = K3dName("progress");
        var ds = new DatastoreTarget { Endpoint = "postgres://k3s:hunter2@db:5432/k3s", Kind = DatastoreKind.Postgres, Network = "dbnet" };
        await service.CreateAsync(Spec(name, ds, token: "tok-secret-1") with { Servers = 2, Agents = 1 }, new K3dCreateOptions { SkipPreflight = true, SkipVerify = true }, CancellationToken.None);
        var progress = log.Progress.Where(p => p.Activity == $"Creating k3d cluster '{name}'").ToList();
        Assert.Contains(progress, p => p.Status == $"Creating node 'k3d-{name}-server-0'");
        Assert.Contains(progress, p => p.Status == $"Starting Node 'k3d-{name}-agent-0'");
        Assert.True(progress.Last().Completed);
        var percents = progress.Where(p => !p.Completed).Select(p => p.PercentComplete).ToList();
        Assert.Equal(percents.OrderBy(p => p), percents);
        Assert.True(percents.Max() > 50, string.Join(",", percents));
        Assert.Contains(log.Verbose, v => v == $"k3d: Cluster '{name}' created successfully!");
        Assert.Contains(log.Verbose, v => v.Contains("\"token\": \"***\"", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Verbose, v => v.Contains("hunter2", StringComparison.Ordinal) || v.Contains("tok-secret-1", StringComparison.Ordinal));
        await service.DeleteAsync(name, CancellationToken.None);
    }

    private sealed class RecordingLog : IOperationLog
    {
        public List<string> Verbose { get; } = [];
        public List<OperationProgress> Progress { get; } = [];
        void IOperationLog.Verbose(string message) { lock (Verbose) Verbose.Add(message); }
        void IOperationLog.Warning(string message) { }
        void IOperationLog.Progress(OperationProgress progress) { lock (Progress) Progress.Add(progress); }
    }

    [Fact]
    public async Task The_fake_refuses_what_real_k3d_refuses()
    {
        using var fake = new FakeK3dHarness();
        var cli = fake.Cli();
        var noFilter = await cli.RunAsync(["cluster", "create", "x1", "--servers", "3", "--k3s-arg", "--tls-san=a"], CancellationToken.None);
        Assert.Equal(1, noFilter.ExitCode);
        Assert.Contains("K3sExtraArg '--tls-san=a' lacks a node filter, but there's more than one node", noFilter.ErrorText);
        var unescaped = await cli.RunAsync(["cluster", "create", "x2", "-e", "K=postgres://u:p@h/db@server:*"], CancellationToken.None);
        Assert.Contains("only one unescaped '@' allowed", unescaped.ErrorText);
        // One server and the load balancer are two nodes: a filter is still needed.
        var single = await cli.RunAsync(["cluster", "create", "x3", "--k3s-arg", "--tls-san=a"], CancellationToken.None);
        Assert.Contains("lacks a node filter", single.ErrorText);
        using var v4 = new FakeK3dHarness("v4.4.8");
        var old = await v4.Cli().RunAsync(["cluster", "create", "x4", "--k3s-arg", "--tls-san=a@server:*"], CancellationToken.None);
        Assert.Equal(1, old.ExitCode);
        Assert.Contains("unknown flag: --k3s-arg", old.ErrorText);
        Assert.Empty(await (await fake.ServiceAsync()).ListAsync(CancellationToken.None));
    }

    private sealed class CancelOnVerbose(CancellationTokenSource cts, string prefix) : IOperationLog
    {
        public void Verbose(string message) { if (message.StartsWith(prefix, StringComparison.Ordinal)) cts.Cancel(); }
        public void Warning(string message) { }
        public void Progress(OperationProgress progress) { }
    }
}
