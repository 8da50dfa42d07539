using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// The one write batcher of Set-EtcdKey and Remove-EtcdKey, against a real member: results in the
/// order given, the last write of a key wins with transactions in flight, per-write failures as
/// errors with catalogue ids, and NOSPACE named for the cluster without rewriting a message.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class EtcdWriteBatcherTests(DockerFixture fx)
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static EtcdPut Put(string key, string value) => new(key, Encoding.UTF8.GetBytes(value));

    private static string? Get(EtcdCluster c, string key)
    {
        var r = Cli.Run("etcdctl", "--endpoints", c.Endpoints[0], "get", key, "--print-value-only");
        Assert.Equal(0, r.ExitCode);
        var text = r.Output.TrimEnd('\n');
        return text.Length == 0 ? null : text;
    }

    [Fact]
    public async Task Puts_and_deletes_keep_their_order_with_transactions_in_flight_and_report_per_write_results()
    {
        var cluster = await fx.Service().CreateAsync(fx.Spec("batcher", size: 1), None);
        try
        {
            using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster));
            using var batcher = new EtcdWriteBatcher(EtcdWriteBatcher.DefaultMaxInFlight);
            var results = new List<EtcdWriteResult>();

            // 300 puts (three transactions, more than one in flight), /w/dup written five times: its last value wins.
            for (var i = 0; i < 300; i++)
            {
                var key = i % 60 == 0 ? "/w/dup" : $"/w/{i:D3}";
                results.AddRange(await batcher.PutAsync(connection, Put(key, $"v{i}"), None));
            }
            // A prefix delete after them, then a put under that prefix: the order holds across kinds.
            results.AddRange(await batcher.DeleteAsync(connection, new EtcdKeyService.EtcdDelete("/w/1", Prefix: true), None));
            results.AddRange(await batcher.PutAsync(connection, Put("/w/150", "after"), None));
            results.AddRange(await batcher.DeleteAsync(connection, new EtcdKeyService.EtcdDelete("/w/none", Prefix: false), None));
            results.AddRange(await batcher.CompleteAsync(None));
            Assert.Equal(0, batcher.InFlight);

            Assert.Equal(303, results.Count);
            Assert.Equal("/w/dup", results[0].Key);
            Assert.Equal("v240", Get(cluster, "/w/dup"));
            Assert.Equal("v240", results[240].Keys.Single().Value);
            Assert.All(results.Take(300), r => Assert.Null(r.Error));

            var prefix = results[300];
            Assert.True(prefix.Prefix);
            Assert.Equal(98, prefix.Keys.Count);   // /w/100../w/199 but for /w/120 and /w/180 (those were /w/dup)
            Assert.Null(Get(cluster, "/w/121"));
            Assert.Equal("after", Get(cluster, "/w/150"));
            Assert.Equal("v299", Get(cluster, "/w/299"));

            var missing = results[302];
            Assert.Equal("EtcdKeyNotFound", missing.Error?.ErrorId);
            Assert.Empty(missing.Keys);
        }
        finally
        {
            await fx.Service().RemoveAsync(cluster.Name, keepData: false, None);
        }
    }

    [Fact]
    public void NOSPACE_names_the_clusters_Optimize_command_when_the_connection_knows_its_cluster()
    {
        var full = new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"));
        using (var named = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:1"], ClusterName = "small" }))
        {
            var ex = named.Map(full, "put", "/k");
            Assert.Equal(("EtcdNoSpace", FailureKind.QuotaExceeded), (ex.ErrorId, ex.Kind));
            Assert.Contains("Run 'Optimize-EtcdCluster -Cluster small'", ex.Message);
        }
        // One or two members: defragmenting one pauses the cluster, so the command that works has -Force.
        using (var one = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:2"], ClusterName = "one", ClusterSize = 1 }))
        {
            Assert.Contains("Run 'Optimize-EtcdCluster -Cluster one -Force'", one.Map(full, "put", "/k").Message);
        }
        using (var three = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:3"], ClusterName = "three", ClusterSize = 3 }))
        {
            Assert.Contains("Run 'Optimize-EtcdCluster -Cluster three'", three.Map(full, "put", "/k").Message);
        }
        using var anonymous = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:1"] });
        Assert.Contains("Run Optimize-EtcdCluster on the cluster", anonymous.Map(full, "put", "/k").Message);
        Assert.Equal("small", EtcdConnectionOptions.FromCluster(new EtcdCluster { Name = "small", Members = [new EtcdClusterMember { Name = "small0", ClientUrl = "http://127.0.0.1:1" }] }).ClusterName);
    }
}
