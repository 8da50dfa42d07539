using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>Pure logic of the data plane, with inputs built by hand (no Docker needed).</summary>
public sealed class DataPlaneUnitTests
{
    private static void Varint(List<byte> b, ulong v)
    {
        while (v >= 0x80) { b.Add((byte)(v | 0x80)); v >>= 7; }
        b.Add((byte)v);
    }

    private static void Field(List<byte> b, int number, byte[] payload)
    {
        Varint(b, (ulong)(number << 3 | 2));
        Varint(b, (ulong)payload.Length);
        b.AddRange(payload);
    }

    /// <summary>"k8s\0" + runtime.Unknown{ typeMeta{apiVersion, kind}, raw, contentEncoding, contentType }, as kube-apiserver writes it.</summary>
    private static byte[] KubernetesProtobuf(string apiVersion, string kind, bool typeMetaLast = false)
    {
        var typeMeta = new List<byte>();
        Field(typeMeta, 1, Encoding.UTF8.GetBytes(apiVersion));
        Field(typeMeta, 2, Encoding.UTF8.GetBytes(kind));
        var unknown = new List<byte>();
        if (!typeMetaLast) Field(unknown, 1, [.. typeMeta]);
        // raw: an embedded object with a 300-byte field (multi-byte varint length) and some varints.
        var raw = new List<byte>();
        Field(raw, 1, new byte[300]);
        Varint(raw, 3 << 3 | 0); Varint(raw, 1234567);
        Field(unknown, 2, [.. raw]);
        // A fixed64 and a fixed32 field the reader must skip.
        Varint(unknown, 5 << 3 | 1); unknown.AddRange(new byte[8]);
        Varint(unknown, 6 << 3 | 5); unknown.AddRange(new byte[4]);
        Field(unknown, 3, ""u8.ToArray());
        Field(unknown, 4, ""u8.ToArray());
        if (typeMetaLast) Field(unknown, 1, [.. typeMeta]);
        return [.. "k8s\0"u8.ToArray(), .. unknown];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Protobuf_envelope_gives_kind_and_apiVersion(bool typeMetaLast)
    {
        var value = KubernetesProtobuf("apps/v1", "Deployment", typeMetaLast);
        var info = KubernetesValueDecoder.Decode("/registry/deployments/kube-system/coredns", value);
        Assert.Equal(new KubernetesObjectInfo("deployments", "kube-system", "coredns", "Deployment", "apps/v1"), info);
    }

    [Fact]
    public void Truncated_or_garbage_protobuf_decodes_to_nothing_without_throwing()
    {
        var value = KubernetesProtobuf("v1", "Pod");
        // "k8s\0" + field header (2) + typeMeta (9): any cut before byte 15 leaves the TypeMeta incomplete.
        for (var cut = 4; cut < 15; cut++)
        {
            var (kind, _) = KubernetesValueDecoder.DecodeTypeMeta(value.AsSpan(0, cut));
            Assert.Null(kind);
        }
        Assert.Equal((null, null), KubernetesValueDecoder.DecodeTypeMeta([.. "k8s\0"u8.ToArray(), 0xFF, 0xFF, 0xFF]));
        Assert.Equal((null, null), KubernetesValueDecoder.DecodeTypeMeta("plain text"u8));
    }

    [Fact]
    public void Json_value_gives_kind_and_apiVersion()
    {
        var json = """{"metadata":{"name":"x","labels":{"kind":"nope"}},"apiVersion":"v1","spec":[1,2],"kind":"ConfigMap"}"""u8;
        Assert.Equal(("ConfigMap", "v1"), KubernetesValueDecoder.DecodeTypeMeta(json));
        Assert.Equal((null, null), KubernetesValueDecoder.DecodeTypeMeta("{ broken"u8));
    }

    [Theory]
    [InlineData("/registry/pods/default/web-0", "pods", "default", "web-0")]
    [InlineData("/registry/namespaces/kube-system", "namespaces", null, "kube-system")]
    [InlineData("/registry/minions/k3d-a-server-0", "minions", null, "k3d-a-server-0")]
    [InlineData("/registry/apiregistration.k8s.io/apiservices/v1.apps", "apiservices.apiregistration.k8s.io", null, "v1.apps")]
    [InlineData("/registry/services/specs/default/kubernetes", "services/specs", "default", "kubernetes")]
    [InlineData("/registry/ranges/serviceips", "ranges", null, "serviceips")]
    [InlineData("/bootstrap/abc", null, null, null)]
    public void Registry_path_gives_resource_namespace_name(string key, string? resource, string? ns, string? name) =>
        Assert.Equal((resource, ns, name), KubernetesValueDecoder.ParsePath(key));

    [Theory]
    [InlineData("/a", "/b")]
    [InlineData("/bulk/", "/bulk0")]
    [InlineData("a\u007f", "a\u0080")]
    public void Prefix_end_increments_the_last_byte(string prefix, string end) =>
        Assert.Equal(Encoding.Latin1.GetBytes(end), EtcdKeyService.PrefixEnd(Encoding.Latin1.GetBytes(prefix)));

    [Fact]
    public void Prefix_end_of_all_ff_is_the_end_of_the_keyspace()
    {
        Assert.Equal([0x02], EtcdKeyService.PrefixEnd([0x01, 0xFF]));
        Assert.Equal([0], EtcdKeyService.PrefixEnd([0xFF, 0xFF]));
    }

    [Fact]
    public void Binary_values_are_shown_safely()
    {
        Assert.Equal("héllo\tworld\n", EtcdKeyService.TextOf(Encoding.UTF8.GetBytes("héllo\tworld\n"), out var b1));
        Assert.False(b1);
        var text = EtcdKeyService.TextOf([(byte)'k', (byte)'8', (byte)'s', 0, 0x1B, (byte)'[', 0xC3], out var b2);
        Assert.True(b2);
        Assert.Equal("k8s..[.", text);
    }

    [Fact]
    public void Range_pages_are_read_in_place_as_protobuf_writes_them()
    {
        var response = new Etcdserverpb.RangeResponse
        {
            Header = new Etcdserverpb.ResponseHeader { ClusterId = 7, MemberId = 9, Revision = 123_456_789_012, RaftTerm = 3 },
            More = true,
            Count = 42,
        };
        response.Kvs.Add(new Mvccpb.KeyValue { Key = Google.Protobuf.ByteString.CopyFromUtf8("/a"), Value = Google.Protobuf.ByteString.CopyFromUtf8("héllo"), CreateRevision = 5, ModRevision = 300, Version = 2, Lease = 0x694d71ddacfda227 });
        response.Kvs.Add(new Mvccpb.KeyValue { Key = Google.Protobuf.ByteString.CopyFromUtf8("/b"), CreateRevision = 6, ModRevision = 6, Version = 1 });
        using var page = EtcdRangePage.Parse(Google.Protobuf.MessageExtensions.ToByteArray(response));
        Assert.Equal(123_456_789_012, page.Revision);
        Assert.True(page.More);
        Assert.Equal(42, page.Count);
        Assert.Equal(2, page.KeyCount);
        var first = EtcdKeyService.ToKeyValue(page[0], keysOnly: false, asBytes: true);
        Assert.Equal(("/a", "héllo", 5L, 300L, 2L, 0x694d71ddacfda227L), (first.Key, first.Value, first.CreateRevision, first.ModRevision, first.Version, first.Lease));
        Assert.Equal(Encoding.UTF8.GetBytes("héllo"), first.Bytes);
        var second = EtcdKeyService.ToKeyValue(page[1], keysOnly: false, asBytes: false);
        Assert.Equal(("/b", "", 0L), (second.Key, second.Value, second.ByteLength ?? -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => page[2].Key.Length);
    }

    [Theory]
    [InlineData(Grpc.Core.StatusCode.Internal)]
    [InlineData(Grpc.Core.StatusCode.Unknown)]
    public void A_transport_that_breaks_under_a_call_is_a_connection_error(Grpc.Core.StatusCode code)
    {
        using var connection = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:1"] });
        var broken = new Grpc.Core.RpcException(new Grpc.Core.Status(code, "Error reading next message.",
            new IOException("Received an unexpected EOF or 0 bytes from the transport stream.")));
        var ex = connection.Map(broken, "range", "/k");
        Assert.Equal(("EtcdConnectionBroken", FailureKind.ConnectionError), (ex.ErrorId, ex.Kind));
        Assert.Contains("unexpected EOF", ex.Message);

        // An Internal status without a broken transport stays what it was.
        Assert.Equal("EtcdOperationFailed", connection.Map(new Grpc.Core.RpcException(new Grpc.Core.Status(code, "bad message")), "range", "/k").ErrorId);
    }

    [Fact]
    public void An_unavailable_endpoint_names_the_sockets_reason_when_grpc_only_says_subchannel()
    {
        // Seen in CI: gRPC gave up on a refused connection before the deadline with only this detail.
        using var connection = EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["http://127.0.0.1:1"] });
        var refused = new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.Unavailable, "Error connecting to subchannel.",
            new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused)));
        var ex = connection.Map(refused, "range", "/k");
        Assert.Equal(("EtcdUnreachable", FailureKind.ConnectionError), (ex.ErrorId, ex.Kind));
        Assert.Contains("Error connecting to subchannel: Connection refused", ex.Message);
        // A detail that already says it is not repeated.
        var said = connection.Map(new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.Unavailable, "Connection refused (127.0.0.1:1)",
            new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused))), "range", "/k");
        Assert.Contains("(Connection refused (127.0.0.1:1))", said.Message);
    }

    [Fact]
    public void An_empty_range_page_has_no_keys()
    {
        using var page = EtcdRangePage.Parse([]);
        Assert.Equal((0, false, 0L, 0L), (page.KeyCount, page.More, page.Count, page.Revision));
    }

    [Theory]
    [InlineData(new byte[] { 0x12, 0x05, 0x0a })]          // a key record longer than the page
    [InlineData(new byte[] { 0x1f })]                      // wire type 7 does not exist
    [InlineData(new byte[] { 0x18, 0x80 })]                // a varint cut short
    [InlineData(new byte[] { 0x12, 0x02, 0x0a, 0x05 })]    // a key inside the record longer than the record
    [InlineData(new byte[] { 0x12, 0x01, 0x0f })]          // a record holding a tag of an unknown wire type
    public void A_malformed_range_page_is_refused(byte[] response) =>
        Assert.Throws<InvalidDataException>(() =>
        {
            using var page = EtcdRangePage.Parse(response);
            for (var i = 0; i < page.KeyCount; i++) _ = page[i].Key.Length;
        });

    [Theory]
    [InlineData(130_000, 1000, 16_131)]        // 130-byte keys and values: about 2 MB a page
    [InlineData(20_000, 1000, 100_000)]        // tiny keys: capped by key count
    [InlineData(5_000_000, 1000, 419)]         // 5 KB values (Kubernetes objects): about 2 MB a page
    [InlineData(100_000_000, 1, 1)]            // one huge value: never below one key
    public void Pages_after_the_first_are_sized_by_bytes(long pageBytes, int pageKeys, int expected) =>
        Assert.Equal(expected, EtcdKeyService.NextPageSize(pageBytes, pageKeys));

    [Theory]
    [InlineData("http://127.0.0.1:2379", true)]
    [InlineData("https://etcd0:2379", true)]
    [InlineData("http://[::1]:2379", true)]
    [InlineData("127.0.0.1:2379", false)]
    [InlineData("not a url", false)]
    [InlineData("ftp://x:21", false)]
    [InlineData("http://x", false)]
    [InlineData("http://u:p@x:2379", false)]
    [InlineData("http://x:2379/v2/keys", false)]
    [InlineData("", false)]
    public void Endpoints_must_be_client_urls(string endpoint, bool valid) =>
        Assert.Equal(valid, EtcdConnectionOptions.TryParseEndpoint(endpoint, out _));

    [Fact]
    public void Options_validation_reports_stable_ids()
    {
        static string Id(EtcdConnectionOptions o) => Assert.Throws<K3dEtcdException>(o.Validate).ErrorId;
        Assert.Equal("EtcdEndpointMissing", Id(new EtcdConnectionOptions()));
        Assert.Equal("EtcdEndpointInvalid", Id(new EtcdConnectionOptions { Endpoints = ["localhost"] }));
        Assert.Equal("EtcdTlsFileNotFound", Id(new EtcdConnectionOptions { Endpoints = ["https://a:1"], CaFile = "/nonexistent/ca.pem" }));
        Assert.Equal("EtcdClientCertificateIncomplete", Id(new EtcdConnectionOptions { Endpoints = ["https://a:1"], CertFile = "/etc/hostname" }));
        Assert.Equal("EtcdCredentialIncomplete", Id(new EtcdConnectionOptions { Endpoints = ["http://a:1"], Username = "root" }));
        var notPem = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notPem, "not a certificate");
            var ex = Assert.Throws<K3dEtcdException>(() => EtcdConnection.Open(new EtcdConnectionOptions { Endpoints = ["https://a:1"], CaFile = notPem }));
            Assert.Equal("EtcdCaFileInvalid", ex.ErrorId);
        }
        finally { File.Delete(notPem); }
    }

    [Fact]
    public void Options_from_a_cluster_use_its_endpoints_and_tls_files_and_never_show_the_password()
    {
        var cluster = new EtcdCluster
        {
            Name = "c",
            Members = [new EtcdClusterMember { Name = "c0", ClientUrl = "https://127.0.0.1:1" }, new EtcdClusterMember { Name = "c1", ClientUrl = null }],
            Tls = new EtcdTlsInfo { CaFile = "/tls/ca.pem", ClientCertFile = "/tls/client.pem", ClientKeyFile = "/tls/client-key.pem" },
        };
        var o = EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(3), username: "root", password: "s3cret");
        Assert.Equal(["https://127.0.0.1:1"], o.Endpoints);
        Assert.Equal(("/tls/ca.pem", "/tls/client.pem", "/tls/client-key.pem"), (o.CaFile, o.CertFile, o.KeyFile));
        Assert.Equal(TimeSpan.FromSeconds(3), o.Timeout);
        Assert.DoesNotContain("s3cret", o.ToString());
        Assert.DoesNotContain("s3cret", o.CacheKey);
        var stopped = new EtcdCluster { Name = "s", Members = [new EtcdClusterMember { Name = "s0" }] };
        Assert.Equal("EtcdClusterNotRunning", Assert.Throws<K3dEtcdException>(() => EtcdConnectionOptions.FromCluster(stopped)).ErrorId);
    }

    private static readonly EtcdMemberStatus Leader = new() { Id = "aaaa", Name = "m0", Endpoint = "http://127.0.0.1:1", RaftTerm = 2 };
    private static readonly EtcdMemberStatus[] Others =
    [
        new() { Id = "bbbb", Name = "m1", Endpoint = "http://127.0.0.1:2" },
        new() { Id = "cccc", Name = "m2", Endpoint = null, Error = "down" },
    ];

    [Fact]
    public void Metrics_give_average_latency_and_failures_and_leave_the_rest_empty()
    {
        var metrics = """
            # HELP etcd_network_peer_round_trip_time_seconds Round-Trip-Time histogram between peers
            # TYPE etcd_network_peer_round_trip_time_seconds histogram
            etcd_network_peer_round_trip_time_seconds_bucket{To="bbbb",le="0.0001"} 0
            etcd_network_peer_round_trip_time_seconds_bucket{To="bbbb",le="+Inf"} 4
            etcd_network_peer_round_trip_time_seconds_sum{To="bbbb"} 0.002
            etcd_network_peer_round_trip_time_seconds_count{To="bbbb"} 4
            etcd_network_peer_round_trip_time_seconds_sum{To="cccc"} 0.003
            etcd_network_peer_round_trip_time_seconds_count{To="cccc"} 2
            # TYPE etcd_network_peer_sent_failures_total counter
            etcd_network_peer_sent_failures_total{To="cccc"} 17
            """;
        var stats = EtcdClusterStatusService.FromMetrics(metrics, Leader, Others);
        Assert.Equal("metrics", stats.Source);
        Assert.Equal(("aaaa", "m0"), (stats.LeaderId, stats.LeaderName));
        var (m1, m2) = (stats.Followers[0], stats.Followers[1]);
        Assert.Equal(("m1", 0.0005, 4L, 0L), (m1.Name, m1.Latency.Average!.Value, m1.Latency.Samples!.Value, m1.Counts.Fail!.Value));
        Assert.Equal(("m2", 0.0015, 17L, false), (m2.Name, m2.Latency.Average!.Value, m2.Counts.Fail!.Value, m2.Reachable!.Value));
        foreach (var f in stats.Followers)
        {
            Assert.Null(f.Latency.Current);
            Assert.Null(f.Latency.StandardDeviation);
            Assert.Null(f.Latency.Minimum);
            Assert.Null(f.Latency.Maximum);
            Assert.Null(f.Counts.Success);
        }
    }

    [Fact]
    public void Metrics_without_any_peer_sample_invent_nothing()
    {
        var stats = EtcdClusterStatusService.FromMetrics("etcd_server_is_leader 1\n", Leader, Others);
        Assert.All(stats.Followers, f => Assert.Equal((null, null, null), (f.Latency.Average, f.Counts.Fail, f.Counts.Success)));
    }

    [Fact]
    public void V2_stats_keep_the_classic_shape_with_names_and_latency_in_seconds()
    {
        // etcd writes these latencies in milliseconds (FollowerStats.Succ: float64(d) / 1000000.0); the object holds seconds.
        var body = """{"leader":"aaaa","followers":{"bbbb":{"latency":{"current":1,"average":2,"standardDeviation":0.5,"minimum":0.1,"maximum":10},"counts":{"fail":1,"success":345}},"cccc":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":0,"maximum":0},"counts":{"fail":9,"success":0}}}}""";
        Assert.True(EtcdClusterStatusService.TryParseV2(body, Leader, Others, out var stats));
        Assert.Equal("v2", stats.Source);
        var m1 = stats.Followers[0];
        Assert.Equal(("bbbb", "m1", 0.001, 0.002, 0.0005, 0.0001, 0.01, 1L, 345L),
            (m1.Id, m1.Name, m1.Latency.Current, m1.Latency.Average, m1.Latency.StandardDeviation, m1.Latency.Minimum, m1.Latency.Maximum, m1.Counts.Fail, m1.Counts.Success));
        Assert.Equal((9L, false), (stats.Followers[1].Counts.Fail!.Value, stats.Followers[1].Reachable!.Value));
        Assert.False(EtcdClusterStatusService.TryParseV2("404 page not found", Leader, Others, out _));
    }

    [Fact]
    public void Quorum_needs_a_healthy_leader_and_a_majority()
    {
        EtcdHealth H(bool healthy, bool leader = false) => new() { Name = "x", Id = Guid.NewGuid().ToString(), Healthy = healthy, IsLeader = leader };
        Assert.True(EtcdClusterStatusService.IsQuorate([H(true, true), H(true), H(false)]));
        Assert.False(EtcdClusterStatusService.IsQuorate([H(true, true), H(false), H(false)]));
        Assert.False(EtcdClusterStatusService.IsQuorate([H(true), H(true), H(true)]));
    }
}
