using System.Collections.Concurrent;
using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Members;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// Rolling upgrades against real members, checked with clients that are not ours: etcdctl (keys,
/// HashKV, member list, endpoint status), curl (/version) and the docker CLI (images, container
/// and volume identities).
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdUpgradeTests(DockerFixture fx)
{
    private const string Image35 = "k3detcd/etcd:3.5.16";

    private EtcdUpgradeService Upgrades() => new(new EtcdMemberService(fx.Service(), NullOperationLog.Instance) { Timeout = TimeSpan.FromSeconds(90) }, NullOperationLog.Instance);

    private static string Run(string file, params string[] args) => Cli.Checked(file, args);

    private static string Inspect(string format, string name) => Run("docker", "inspect", "-f", format, name).Trim();

    /// <summary>Each container's id and image, and each volume's creation time: what a refused upgrade must leave alone.</summary>
    private static string Identity(EtcdCluster c) => string.Join("\n", c.Members.Select(m =>
        $"{m.Name} {Inspect("{{.Id}} {{.Config.Image}}", m.ContainerName)} {Run("docker", "volume", "inspect", "-f", "{{.CreatedAt}}", m.Volume).Trim()}"));

    private const string Image3530 = "k3detcd/etcd:3.5.30";

    /// <summary>etcdctl's TLS flags for a TLS cluster (none for a plain one).</summary>
    private static string[] TlsArgs(EtcdCluster c) =>
        c.Tls is { } t ? ["--cacert", t.CaFile, "--cert", t.ClientCertFile, "--key", t.ClientKeyFile] : [];

    private static string Etcdctl(EtcdCluster c, params string[] args) =>
        Run("etcdctl", ["--endpoints", string.Join(",", c.Endpoints), .. TlsArgs(c), .. args]);

    /// <summary>curl against a member, with the cluster's client certificate when it has TLS.</summary>
    private static string Curl(EtcdCluster c, string url) =>
        Run("curl", c.Tls is { } t ? ["-s", "--cacert", t.CaFile, "--cert", t.ClientCertFile, "--key", t.ClientKeyFile, url] : ["-s", url]);

    /// <summary>An etcdctl writer of k3s-like keys (some under a lease) until cancelled; returns the keys etcd acknowledged.</summary>
    private static Task<ConcurrentBag<string>> WriterAsync(EtcdCluster c, CancellationToken stop) => Task.Run(() =>
    {
        var acknowledged = new ConcurrentBag<string>();
        var endpoints = string.Join(",", c.Endpoints);
        var lease = Etcdctl(c, "lease", "grant", "600").Split(' ')[1];
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var key = $"/registry/upgrade/pods/default/p{i:D5}";
            string[] args = i % 5 == 0
                ? ["--endpoints", endpoints, .. TlsArgs(c), "--command-timeout=2s", "put", key, $"v{i}", "--lease", lease]
                : ["--endpoints", endpoints, .. TlsArgs(c), "--command-timeout=2s", "put", key, $"v{i}"];
            if (Cli.Run("etcdctl", args).ExitCode == 0) acknowledged.Add(key);
        }
        return acknowledged;
    });

    /// <summary>
    /// The chain the issue asks for, 3.4.23 -> 3.5.16 -> 3.5.30, on one cluster per topology (plain
    /// and TLS), with an etcdctl writer throughout both steps.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rolling_upgrade_3_4_23_to_3_5_16_to_3_5_30_keeps_every_acknowledged_write_ids_volumes_and_agrees_with_etcdctl_and_curl(bool tls)
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec(tls ? "upgrade-tls" : "upgrade") with { Tls = tls }, CancellationToken.None);
        var idsBefore = Etcdctl(cluster, "member", "list");
        var volumesBefore = cluster.Members.Select(m => Run("docker", "volume", "inspect", "-f", "{{.Name}} {{.CreatedAt}}", m.Volume).Trim()).ToList();
        var snapshots = Directory.CreateTempSubdirectory("k3detcd-upgrade-");
        using var stop = new CancellationTokenSource();
        var writer = WriterAsync(cluster, stop.Token);
        await Task.Delay(1000);

        EtcdUpgrade first, second;
        try
        {
            first = await Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Version = "3.5.16", SnapshotPath = snapshots.FullName }, CancellationToken.None);
            var mid = await fx.Service().ResolveAsync(cluster.Name, CancellationToken.None);
            Assert.Equal("3.5.16", mid.Version);
            Assert.Equal(volumesBefore, cluster.Members.Select(m => Run("docker", "volume", "inspect", "-f", "{{.Name}} {{.CreatedAt}}", m.Volume).Trim()).ToList());
            second = await Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Version = "3.5.30" }, CancellationToken.None);
        }
        finally
        {
            await Task.Delay(500);
            stop.Cancel();
        }
        var acknowledged = await writer;

        Assert.Equal("3.4.23", first.FromVersion);
        Assert.Equal("3.5.16", first.ToVersion);
        Assert.Equal(Image35, first.Image);
        Assert.All(first.Members, m => Assert.Equal("3.5.16", m.VersionAfter));
        Assert.True(first.Members[^1].WasLeader, "the leader goes last");
        Assert.True(File.Exists(first.SnapshotPath), first.SnapshotPath);
        Assert.Equal(0, Cli.Run("etcdctl", "snapshot", "status", first.SnapshotPath!).ExitCode);
        Assert.Equal("3.5.0", first.ClusterVersion);
        Assert.Equal("3.5.16", second.FromVersion);
        Assert.Equal(Image3530, second.Image);
        Assert.All(second.Members, m => Assert.True(m.Upgraded && m.VersionBefore == "3.5.16" && m.VersionAfter == "3.5.30", $"{m.Member}: {m.VersionBefore} -> {m.VersionAfter}"));
        Assert.Equal("3.5.0", second.ClusterVersion);

        // Every write etcd acknowledged is there (etcdctl, linearizable), those under the lease too.
        Assert.NotEmpty(acknowledged);
        var keys = Etcdctl(cluster, "get", "/registry/upgrade/", "--prefix", "--keys-only").Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.DoesNotContain(acknowledged, k => !keys.Contains(k));
        // Same members, same data on each, each container on the new image and running it.
        Assert.Equal(idsBefore, Etcdctl(cluster, "member", "list"));
        var hashes = JsonDocument.Parse(Etcdctl(cluster, "endpoint", "hashkv", "-w", "json")).RootElement.EnumerateArray()
            .Select(e => e.GetProperty("HashKV").GetProperty("hash").GetInt64()).ToList();
        Assert.Equal(3, hashes.Count);
        Assert.Single(hashes.Distinct());
        foreach (var m in cluster.Members)
        {
            Assert.Equal(Image3530, Inspect("{{.Config.Image}}", m.ContainerName));
            Assert.Contains("etcd Version: 3.5.30", Run("docker", "exec", m.ContainerName, "/usr/local/bin/etcd", "--version"));
            var version = Curl(cluster, $"{m.ClientUrl}/version");
            Assert.Contains("\"etcdserver\":\"3.5.30\"", version);
            Assert.Contains("\"etcdcluster\":\"3.5.0\"", version);
        }
        Assert.Equal(volumesBefore, cluster.Members.Select(m => Run("docker", "volume", "inspect", "-f", "{{.Name}} {{.CreatedAt}}", m.Volume).Trim()).ToList());
        var after = await fx.Service().ResolveAsync(cluster.Name, CancellationToken.None);
        Assert.Equal(Image3530, after.Image);
        Assert.Equal("3.5.30", after.Version);
        Assert.All(after.Members, m => Assert.Equal("3.5.30", m.Version));

        // Going back is refused and changes nothing.
        var identity = Identity(after);
        var down = await Assert.ThrowsAsync<K3dEtcdException>(() => Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Version = "3.5.16" }, CancellationToken.None));
        Assert.Equal(ErrorCatalog.UpgradeIsDowngrade.Id, down.ErrorId);
        Assert.Equal(identity, Identity(after));
        snapshots.Delete(recursive: true);
    }

    [Fact]
    public async Task Refused_upgrades_change_nothing()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("upgrade-no"), CancellationToken.None);
        var identity = Identity(cluster);
        var skip = await Assert.ThrowsAsync<K3dEtcdException>(() => Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Image = "k3detcd/etcd:3.6.1" }, CancellationToken.None));
        Assert.Equal(ErrorCatalog.UpgradeSkipsMinor.Id, skip.ErrorId);
        Assert.Contains("3.5", skip.Message);
        Assert.Equal(identity, Identity(cluster));

        Run("docker", "stop", "-t", "1", cluster.Members[2].ContainerName);
        var stopped = await fx.Service().ResolveAsync(cluster.Name, CancellationToken.None);
        identity = Identity(stopped);
        var down = await Assert.ThrowsAsync<K3dEtcdException>(() => Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Version = "3.5.16" }, CancellationToken.None));
        Assert.Equal(ErrorCatalog.UpgradeClusterNotReady.Id, down.ErrorId);
        Assert.Contains(cluster.Members[2].Name, down.Message);
        Assert.Equal(identity, Identity(stopped));
        Assert.Equal("false", Inspect("{{.State.Running}}", cluster.Members[2].ContainerName));
    }

    [Fact]
    public async Task A_target_image_that_vanishes_half_way_puts_that_member_back_and_running_again_finishes()
    {
        var image = $"k3detcd/upgrade-{fx.RunId}:3.5.16";
        Run("docker", "tag", Image35, image);
        try
        {
            var cluster = await fx.Service().CreateAsync(fx.Spec("upgrade-half"), CancellationToken.None);
            var first = cluster.Members.Select(m => m.ContainerName).ToList();
            var upgrade = Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Image = image }, CancellationToken.None);
            // As soon as one member runs the new image, the image goes away (the tag; the running container keeps its layers).
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (!first.Any(c => Cli.Run("docker", "inspect", "-f", "{{.Config.Image}}", c).Output.Trim() == image) && DateTime.UtcNow < deadline) await Task.Delay(50);
            Run("docker", "rmi", image);
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => upgrade);
            Assert.Equal(ErrorCatalog.UpgradeMemberFailed.Id, ex.ErrorId);
            Assert.Contains("3.4.23", ex.Message);
            Assert.Contains("3.5.16", ex.Message);

            // Mixed versions, healthy, readable: etcdctl says so.
            var endpoints = string.Join(",", cluster.Endpoints);
            var versions = JsonDocument.Parse(Run("etcdctl", "--endpoints", endpoints, "endpoint", "status", "-w", "json")).RootElement.EnumerateArray()
                .Select(e => e.GetProperty("Status").GetProperty("version").GetString()).ToList();
            Assert.Contains("3.4.23", versions);
            Assert.Contains("3.5.16", versions);
            Run("etcdctl", "--endpoints", endpoints, "endpoint", "health");
            Run("etcdctl", "--endpoints", endpoints, "put", "/mixed", "ok");
            // The module shows the same mix: the cluster every version, each member its own (against its container's etcd).
            // (Not the image: with its tag removed, Docker lists the upgraded member's image by id.)
            var mixed = await fx.Service().ResolveAsync(cluster.Name, CancellationToken.None);
            Assert.True(mixed.MixedVersions);
            Assert.Equal("3.4.23, 3.5.16", mixed.Version);
            foreach (var m in mixed.Members)
            {
                Assert.Contains($"etcd Version: {m.Version}", Run("docker", "exec", m.ContainerName, "/usr/local/bin/etcd", "--version"));
            }

            Run("docker", "tag", Image35, image);
            var again = await Upgrades().UpgradeAsync(new EtcdUpgradeRequest { Cluster = cluster.Name, Image = image }, CancellationToken.None);
            Assert.Contains(again.Members, m => !m.Upgraded);
            Assert.All(cluster.Members, m => Assert.Equal(image, Inspect("{{.Config.Image}}", m.ContainerName)));
            Assert.Equal("ok", Run("etcdctl", "--endpoints", endpoints, "get", "/mixed", "--print-value-only").Trim());
            var done = await fx.Service().ResolveAsync(cluster.Name, CancellationToken.None);
            Assert.False(done.MixedVersions);
            Assert.Equal("3.5.16", done.Version);
            Assert.Equal(image, done.Image);

            // A member added afterwards runs the new image and version.
            var added = await new EtcdMemberService(fx.Service(), NullOperationLog.Instance) { Timeout = TimeSpan.FromSeconds(90) }.AddMemberAsync(cluster.Name, CancellationToken.None);
            Assert.Equal(image, Inspect("{{.Config.Image}}", added.ContainerName));
            Assert.Contains("etcd Version: 3.5.16", Run("docker", "exec", added.ContainerName, "/usr/local/bin/etcd", "--version"));
            Assert.Equal("3.5.16", Inspect("{{index .Config.Labels \"io.k3detcd.etcd-version\"}}", added.ContainerName));
        }
        finally
        {
            Cli.Run("docker", "rmi", image);
        }
    }
}
