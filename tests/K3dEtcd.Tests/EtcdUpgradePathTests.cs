using K3dEtcd.Common;
using K3dEtcd.Members;

namespace K3dEtcd.Tests;

/// <summary>The upgrade paths etcd supports, and the refusals that name the path that works (no Docker needed).</summary>
public sealed class EtcdUpgradePathTests
{
    [Theory]
    [InlineData("3.4.23", "3.4.30")]
    [InlineData("3.4.23", "3.5.16")]
    [InlineData("3.5.16", "3.5.30")]
    [InlineData("3.5.26", "3.6.1")]
    [InlineData("3.5.30", "v3.6.0")]
    public void Patch_and_next_minor_upgrades_are_allowed(string from, string to) =>
        Assert.True(EtcdUpgradePath.Check("c", from, to, v2Enabled: false));

    [Fact]
    public void The_same_version_is_nothing_to_do() => Assert.False(EtcdUpgradePath.Check("c", "3.5.16", "3.5.16", false));

    [Theory]
    [InlineData("3.4.23", "3.6.1", nameof(ErrorCatalog.UpgradeSkipsMinor), "3.5")]
    [InlineData("3.4.23", "4.0.0", nameof(ErrorCatalog.UpgradeSkipsMinor), "3.5")]
    [InlineData("3.5.16", "3.4.23", nameof(ErrorCatalog.UpgradeIsDowngrade), "snapshot")]
    [InlineData("3.6.1", "3.5.30", nameof(ErrorCatalog.UpgradeIsDowngrade), "etcdctl downgrade validate 3.5")]
    [InlineData("3.5.16", "3.6.1", nameof(ErrorCatalog.UpgradeNeedsNewerPatch), "3.5.26")]
    [InlineData("3.5.25", "3.6.0", nameof(ErrorCatalog.UpgradeNeedsNewerPatch), "-Version 3.5.30")]
    [InlineData("3.5", "3.5.30", nameof(ErrorCatalog.UpgradeVersionUnknown), "not known")]
    [InlineData("3.5.16", "latest", nameof(ErrorCatalog.UpgradeVersionUnknown), "-Version")]
    public void Unsupported_paths_are_refused_with_the_path_that_works(string from, string to, string errorId, string named)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => EtcdUpgradePath.Check("prod", from, to, v2Enabled: false));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public void A_v2_cluster_cannot_go_to_3_6_but_can_go_to_the_newest_3_5()
    {
        var ex = Assert.Throws<K3dEtcdException>(() => EtcdUpgradePath.Check("prod", "3.5.30", "3.6.1", v2Enabled: true));
        Assert.Equal(ErrorCatalog.UpgradeV2Enabled.Id, ex.ErrorId);
        Assert.True(EtcdUpgradePath.Check("prod", "3.5.16", "3.5.30", v2Enabled: true));
    }

    [Theory]
    [InlineData("k3detcd/etcd:3.4.23", "3.5.16", "k3detcd/etcd:3.5.16")]
    [InlineData("quay.io/coreos/etcd:v3.4.23", "3.5.30", "quay.io/coreos/etcd:v3.5.30")]
    [InlineData("registry.local:5000/etcd:v3.5.16", "v3.5.30", "registry.local:5000/etcd:v3.5.30")]
    [InlineData("gcr.io/etcd-development/etcd@sha256:abc", "3.5.30", "gcr.io/etcd-development/etcd:3.5.30")]
    public void The_target_image_keeps_the_repository_and_the_tag_spelling(string image, string version, string expected) =>
        Assert.Equal(expected, EtcdUpgradePath.ImageFor(image, version));
}
