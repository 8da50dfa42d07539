using K3dEtcd.Clusters;

namespace K3dEtcd.Tests;

/// <summary>The record a cluster's labels carry for a rebuild in place: pure, no engine needed.</summary>
public sealed class ClusterRecordTests
{
    private static readonly EtcdClusterSpec Spec = new()
    {
        Name = "prod", Size = 3, Image = "k3detcd/etcd:3.5.16", ClusterToken = "tok", EnableV2 = true, Tls = true, TlsRoot = "/data/tls",
        QuotaBackendBytes = 64L << 20, AutoCompactionMode = "revision", AutoCompactionRetention = "1000", ExtraArguments = ["--snapshot-count=5000"],
    };

    [Fact]
    public void A_record_gives_back_the_spec_it_was_made_from_with_the_members_indexes_and_host_ports()
    {
        var record = ClusterRecord.Of(Spec, "3.5.16", [new("prod0", 0, 40001), new("prod2", 2, 40003), new("prod3", 3, null)]);
        var back = ClusterRecord.Parse(record.Serialize())!.ToSpec("prod");
        Assert.Equal([0, 2, 3], back.Indexes);
        Assert.Equal(3, back.Size);
        Assert.Equal(new Dictionary<int, int> { [0] = 40001, [2] = 40003 }, back.HostPorts);
        Assert.Equal(Spec.TlsDirectory, back.TlsDirectory);
        Assert.Equal((Spec.Image, Spec.ClusterToken, Spec.EnableV2, Spec.Tls), (back.Image, back.ClusterToken, back.EnableV2, back.Tls));
        Assert.Equal((Spec.QuotaBackendBytes, Spec.AutoCompactionMode, Spec.AutoCompactionRetention), (back.QuotaBackendBytes, back.AutoCompactionMode, back.AutoCompactionRetention));
        Assert.Equal(Spec.ExtraArguments, back.ExtraArguments);
        Assert.Equal(EtcdCommandLine.Build("prod0", "x", "new", Spec), EtcdCommandLine.Build("prod0", "x", "new", back));
    }

    [Fact]
    public void The_newest_record_left_wins_and_a_label_that_is_not_a_record_is_ignored()
    {
        var older = ClusterRecord.Of(Spec, null, [new("prod0", 0, 1)]) with { Written = DateTimeOffset.Parse("2026-01-01T00:00:00Z") };
        var newer = ClusterRecord.Of(Spec, null, [new("prod0", 0, 1), new("prod1", 1, 2)]) with { Written = DateTimeOffset.Parse("2026-02-01T00:00:00Z") };
        var found = ClusterRecord.Newest([
            new Dictionary<string, string> { [ClusterRecord.Label] = older.Serialize() },
            new Dictionary<string, string> { [ClusterRecord.Label] = "{not json" },
            null,
            new Dictionary<string, string> { [ClusterRecord.Label] = newer.Serialize() },
        ]);
        Assert.Equal(2, found!.Members.Count);
        Assert.Null(ClusterRecord.Newest([new Dictionary<string, string>()]));
    }
}
