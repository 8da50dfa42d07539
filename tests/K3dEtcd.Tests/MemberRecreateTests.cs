using System.Text.Json;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Members;

namespace K3dEtcd.Tests;

/// <summary>
/// Recreating a member in place (the one path upgrades, renewals and repairs take): checked with
/// the docker CLI and etcdctl, not through the module.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class MemberRecreateTests(DockerFixture fx)
{
    private const string Image35 = "k3detcd/etcd:3.5.16";

    private EtcdMemberService Members() => new(fx.Service(), NullOperationLog.Instance) { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>What must not change when a member is recreated: docker inspect's name, command, labels, binds, port bindings, network, hostname.</summary>
    /// <remarks>Kept: everything that must not change, the labels without the cluster record (it names the member's image: RecordedImage).</remarks>
    private static (string Id, string Image, string Kept, string? RecordedImage) Inspect(string container)
    {
        var c = JsonDocument.Parse(Cli.Checked("docker", "inspect", container)).RootElement[0];
        var labels = c.GetProperty("Config").GetProperty("Labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var record = labels.Remove(ClusterRecord.Label, out var json) ? ClusterRecord.Parse(json) : null;
        var kept = string.Join("\n",
            c.GetProperty("Name").GetString(),
            c.GetProperty("Config").GetProperty("Hostname").GetString(),
            c.GetProperty("Config").GetProperty("Cmd").GetRawText(),
            string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
            c.GetProperty("HostConfig").GetProperty("Binds").GetRawText(),
            c.GetProperty("HostConfig").GetProperty("PortBindings").GetRawText(),
            c.GetProperty("HostConfig").GetProperty("NetworkMode").GetString(),
            c.GetProperty("NetworkSettings").GetProperty("Ports").GetRawText());
        return (c.GetProperty("Id").GetString()!, c.GetProperty("Config").GetProperty("Image").GetString()!, kept, record?.Image);
    }

    private static string Etcdctl(string endpoint, params string[] args) => Cli.Checked("etcdctl", ["--endpoints", endpoint, .. args]);

    [Fact]
    public async Task A_member_recreated_on_a_new_image_keeps_its_name_volume_port_labels_flags_id_and_data()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("recreate"), CancellationToken.None);
        var member = cluster.Members[1];
        for (var i = 0; i < 10; i++) Etcdctl(cluster.Members[0].ClientUrl!, "put", $"/recreate/{i}", $"v{i}");
        var before = Inspect(member.ContainerName);
        var idsBefore = Etcdctl(cluster.Members[0].ClientUrl!, "member", "list");

        var after = await Members().RecreateMemberAsync(cluster.Name, member.Name, Image35, CancellationToken.None);

        var now = Inspect(member.ContainerName);
        Assert.NotEqual(before.Id, now.Id);                 // a new container ...
        Assert.Equal(Image35, now.Image);                   // ... on the new image ...
        Assert.Equal(before.Kept, now.Kept);                // ... and nothing else changed
        Assert.Equal(Image35, now.RecordedImage);           // but the record names the image a rebuild in place uses
        Assert.Equal(member.ClientUrl, after.ClientUrl);
        Assert.Equal(member.Volume, after.Volume);
        Assert.Equal("running", after.State);
        Assert.Equal(idsBefore, Etcdctl(cluster.Members[0].ClientUrl!, "member", "list"));   // same member id, same peer URL
        var status = Etcdctl(member.ClientUrl!, "endpoint", "status", "-w", "json");
        Assert.Equal("3.5.16", JsonDocument.Parse(status).RootElement[0].GetProperty("Status").GetProperty("version").GetString());
        // Its data came with its volume: serializable reads answer from the member's own store.
        Assert.Equal("v7", Etcdctl(member.ClientUrl!, "get", "/recreate/7", "--print-value-only", "--consistency=s").Trim());
    }

    [Fact]
    public async Task A_member_whose_new_image_is_missing_runs_again_as_it_was()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("recreate-back", size: 1), CancellationToken.None);
        var member = cluster.Members[0];
        Etcdctl(member.ClientUrl!, "put", "/kept", "yes");
        var before = Inspect(member.ContainerName);

        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() =>
            Members().RecreateMemberAsync(cluster.Name, member.Name, "k3detcd/etcd:no-such-tag", CancellationToken.None));

        Assert.Equal(ErrorCatalog.MemberStartFailed.Id, ex.ErrorId);
        Assert.Contains("no-such-tag", ex.Message);
        Assert.Contains($"runs again on {fx.Image}", ex.Message);
        var now = Inspect(member.ContainerName);
        Assert.Equal(fx.Image, now.Image);
        Assert.Equal(before.Kept, now.Kept);
        Assert.Equal("true", Cli.Run("docker", "inspect", "-f", "{{.State.Running}}", member.ContainerName).Output.Trim());
        Assert.Contains(member.Volume, Cli.Run("docker", "volume", "ls", "-q").Output);
        // The put back member serves its data again (it may need a moment to elect itself).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string value;
        do
        {
            value = Cli.Run("etcdctl", "--endpoints", member.ClientUrl!, "get", "/kept", "--print-value-only").Output.Trim();
            if (value == "yes") break;
            await Task.Delay(250);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal("yes", value);
    }
}
