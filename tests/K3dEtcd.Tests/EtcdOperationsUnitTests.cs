using System.Security.Cryptography;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Operations;

namespace K3dEtcd.Tests;

/// <summary>The day-2 operations' pure logic: no Docker, so outside the Docker collection.</summary>
public sealed class EtcdOperationsUnitTests
{
    private static readonly EtcdClusterSpec Spec = new() { Name = "unit", Size = 3, Image = "k3detcd/etcd:3.4.23" };

    [Fact]
    public void The_hash_of_a_stream_covers_everything_but_its_last_32_bytes_however_it_is_cut()
    {
        var data = RandomNumberGenerator.GetBytes(5000);
        var expected = SHA256.HashData(data.AsSpan(0, data.Length - 32));
        foreach (var cut in new[] { 1, 7, 31, 32, 33, 100, 4999, 5000 })
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var tail = new byte[32];
            var tailLength = 0;
            for (var i = 0; i < data.Length; i += cut)
            {
                EtcdSnapshotService.HashAllButLast32(sha, tail, ref tailLength, data.AsSpan(i, Math.Min(cut, data.Length - i)));
            }
            Assert.Equal(expected, sha.GetHashAndReset());
            Assert.Equal(data[^32..], tail);
        }
    }

    [Theory]
    [InlineData("3.4.23", "/usr/local/bin/etcdctl")]
    [InlineData("3.5.16", "/usr/local/bin/etcdutl")]
    [InlineData("3.6.4", "/usr/local/bin/etcdutl")]
    [InlineData(null, "/usr/local/bin/etcdutl")]
    public void Restore_uses_etcdctl_on_34_and_etcdutl_from_35(string? version, string tool) =>
        Assert.Equal(tool, EtcdRestoreService.ToolFor(version));

    [Theory]
    [InlineData(null, "1h", "InvalidAutoCompactionMode", "hourly")]
    [InlineData(null, "soon", "InvalidAutoCompactionRetention", null)]
    [InlineData(null, "1h", "InvalidAutoCompactionRetention", "revision")]
    [InlineData(-1L, null, "InvalidQuotaBackendBytes", null)]
    public void Bad_quota_and_auto_compaction_settings_are_refused_before_anything_is_created(long? quota, string? retention, string errorId, string? mode)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => EtcdClusterService.ValidateSpec(Spec with { QuotaBackendBytes = quota, AutoCompactionRetention = retention, AutoCompactionMode = mode }));
        Assert.Equal(errorId, ex.ErrorId);
    }

    [Fact]
    public void Quota_and_auto_compaction_become_single_token_flags()
    {
        var command = EtcdCommandLine.Build("e0", "e0=http://e0:2380", "new",
            Spec with { QuotaBackendBytes = 64L * 1024 * 1024, AutoCompactionRetention = "1h" });
        Assert.Contains("--quota-backend-bytes=67108864", command);
        Assert.Contains("--auto-compaction-retention=1h", command);
    }
}
