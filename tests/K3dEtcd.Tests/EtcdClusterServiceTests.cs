using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Tests;

[Collection(DockerServicesCollection.Name)]
public sealed class EtcdClusterServiceTests(DockerFixture fx)
{
    [Fact]
    public async Task Create_three_members_is_seen_by_etcdctl_and_docker_and_removed_completely()
    {
        var spec = fx.Spec("create");
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        try
        {
            Assert.Equal(3, cluster.Size);
            Assert.Equal(EtcdClusterState.Running, cluster.State);
            Assert.Equal("3.4.23", cluster.Version);
            Assert.Equal([$"{spec.Name}0", $"{spec.Name}1", $"{spec.Name}2"], cluster.Members.Select(m => m.Name));

            foreach (var member in cluster.Members)
            {
                Assert.StartsWith("http://127.0.0.1:", member.ClientUrl);
                Assert.Equal($"http://{member.ContainerName}:2379", member.NetworkClientUrl);

                var health = Cli.Run("etcdctl", "--endpoints", member.ClientUrl!, "endpoint", "health");
                Assert.True(health.ExitCode == 0, health.Output);
                Assert.Contains("is healthy", health.Output);

                // Member IDs on our object are the IDs etcd itself reports.
                var list = Cli.Run("etcdctl", "--endpoints", member.ClientUrl!, "member", "list", "-w", "json");
                Assert.Equal(0, list.ExitCode);
                using var doc = JsonDocument.Parse(list.Output);
                var reported = doc.RootElement.GetProperty("members").EnumerateArray()
                    .ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("ID").GetUInt64().ToString("x"));
                Assert.Equal(cluster.Members.ToDictionary(m => m.Name, m => m.Id), reported);

                // docker inspect: labels and a port bound to 127.0.0.1 only.
                var inspect = Cli.Run("docker", "inspect", member.ContainerName);
                using var ins = JsonDocument.Parse(inspect.Output);
                var c = ins.RootElement[0];
                Assert.Equal(spec.Name, c.GetProperty("Config").GetProperty("Labels").GetProperty("io.k3detcd.cluster").GetString());
                var binding = c.GetProperty("HostConfig").GetProperty("PortBindings").GetProperty("2379/tcp")[0];
                Assert.Equal("127.0.0.1", binding.GetProperty("HostIp").GetString());
            }

            var again = await fx.Service().GetAsync(spec.Name, CancellationToken.None);
            Assert.NotNull(again);
            Assert.Equal(JsonSerializer.Serialize(cluster), JsonSerializer.Serialize(again));
        }
        finally
        {
            await fx.Service().RemoveAsync(spec.Name, keepData: false, CancellationToken.None);
        }
        await AssertNothingLabelled(spec.Name);
    }

    [Fact]
    public async Task Member_ids_are_computed_the_way_etcd_computes_them()
    {
        // Fixture values from etcd itself for etcd0..2 with token etcd-cluster.
        Assert.Equal("cf1d15c5d194b5c9", EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute(["http://etcd0:2380"], "etcd-cluster")));
        Assert.Equal("ade526d28b1f92f7", EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute(["http://etcd1:2380"], "etcd-cluster")));
        Assert.Equal("d282ac2ce600c1ce", EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute(["http://etcd2:2380"], "etcd-cluster")));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_taken_name_is_refused_and_the_existing_cluster_is_untouched()
    {
        var spec = fx.Spec("taken", size: 1);
        var first = await fx.Service().CreateAsync(spec, CancellationToken.None);
        try
        {
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
            Assert.Equal("ClusterExists", ex.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, ex.Kind);
            var still = await fx.Service().GetAsync(spec.Name, CancellationToken.None);
            Assert.Equal(first.Members.Single().ContainerId, still!.Members.Single().ContainerId);
            Assert.Equal(EtcdClusterState.Running, still.State);
        }
        finally
        {
            await fx.Service().RemoveAsync(spec.Name, false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_missing_image_is_a_clear_error_and_creates_nothing()
    {
        var spec = fx.Spec("noimage") with { Image = "k3detcd/no-such-image:0.0.1" };
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
        Assert.Equal("ImageNotFound", ex.ErrorId);
        Assert.Contains("k3detcd/no-such-image:0.0.1", ex.Message);
        await AssertNothingLabelled(spec.Name);
    }

    [Fact]
    public async Task A_member_that_cannot_start_rolls_everything_back_and_reports_its_log()
    {
        var spec = fx.Spec("badflag") with { ExtraArguments = ["--no-such-flag=1"] };
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
        Assert.Equal("MemberExited", ex.ErrorId);
        Assert.True(ex.Message.Contains("no-such-flag"), ex.Message); // etcd's own complaint, from the member's log
        await AssertNothingLabelled(spec.Name);
    }

    [Fact]
    public async Task A_port_in_use_rolls_everything_back()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var spec = fx.Spec("port", size: 1) with { ClientPort = port };
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
        Assert.Equal("ClientPortInUse", ex.ErrorId);
        Assert.Equal(FailureKind.ResourceUnavailable, ex.Kind);
        await AssertNothingLabelled(spec.Name);
    }

    [Fact]
    public async Task Cancelling_creation_rolls_everything_back()
    {
        var spec = fx.Spec("cancel");
        using var cts = new CancellationTokenSource();
        var log = new CancelOnStatus(cts, "Starting member");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fx.Service(log).CreateAsync(spec, cts.Token));
        await AssertNothingLabelled(spec.Name);
    }

    [Theory]
    [InlineData("", "InvalidClusterName")]
    [InlineData("-dash", "InvalidClusterName")]
    [InlineData("has space", "InvalidClusterName")]
    [InlineData("ok", "InvalidClusterSize", 0)]
    [InlineData("ok", "InvalidClusterSize", 10)]
    public void Bad_specs_are_refused_before_docker_is_touched(string name, string errorId, int size = 3)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => EtcdClusterService.ValidateSpec(new EtcdClusterSpec { Name = name, Size = size }));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }

    [Fact]
    public async Task An_unreachable_docker_engine_fails_within_seconds()
    {
        var started = DateTime.UtcNow;
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => DockerClientFactory.ConnectAsync("unix:///tmp/k3detcd-no-such.sock", CancellationToken.None));
        Assert.Equal("DockerUnreachable", ex.ErrorId);
        Assert.Equal(FailureKind.ConnectionError, ex.Kind);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("etcd Version: 3.4.23\nGit SHA: x", "3.4.23")]
    [InlineData("etcd Version: 3.6.1\n", "3.6.1")]
    public void Version_output_is_parsed(string output, string expected) => Assert.Equal(expected, EtcdVersion.ParseVersionOutput(output));

    [Theory]
    [InlineData("gcr.io/etcd-development/etcd:v3.6.4", "3.6.4", false)]
    [InlineData("quay.io/coreos/etcd:v3.5.21", "3.5.21", true)]
    [InlineData("k3detcd/etcd:3.4.23", "3.4.23", true)]
    public void Image_tags_give_versions_and_v2_support(string image, string version, bool v2)
    {
        Assert.Equal(version, EtcdVersion.ParseImageTag(image));
        Assert.Equal(v2, EtcdVersion.SupportsV2(version));
    }

    private async Task AssertNothingLabelled(string cluster)
    {
        var filter = Labels.ClusterFilter(cluster);
        Assert.Empty(await fx.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }));
        Assert.Empty((await fx.Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter })).Volumes ?? []);
        Assert.Empty(await fx.Docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }));
        // Independent check with the docker CLI.
        Assert.Equal("", Cli.Run("docker", "ps", "-aq", "--filter", $"label=io.k3detcd.cluster={cluster}").Output.Trim());
    }

    private sealed class CancelOnStatus(CancellationTokenSource cts, string status) : IOperationLog
    {
        public void Verbose(string message) { }
        public void Warning(string message) { }
        public void Progress(OperationProgress progress) { if (progress.Status.StartsWith(status, StringComparison.Ordinal)) cts.Cancel(); }
    }
}
