using K3dEtcd.Clusters;

namespace K3dEtcd.Tests;

/// <summary>The log line that tells a member has passed etcd's bootstrap check, in every log format we start.</summary>
public sealed class MemberServerStartTests
{
    [Theory]
    // etcd 3.4, default capnslog logger (what New-EtcdCluster starts).
    [InlineData("2026-11-30 02:03:43.816696 I | etcdserver: starting member 13704d4547ab23c8 in cluster 8a1a60d3552bd2cd")]
    // etcd 3.4 with --logger=zap, and 3.5.
    [InlineData("{\"level\":\"info\",\"ts\":\"2026-11-30T02:08:25.811Z\",\"caller\":\"etcdserver/raft.go:536\",\"msg\":\"starting local member\",\"local-member-id\":\"ec86ba8e472444a6\"}")]
    // A member with data already (Restore-EtcdSnapshot seeds it before the start).
    [InlineData("2026-11-30 02:03:43.816696 I | etcdserver: restarting member 13704d4547ab23c8 in cluster 8a1a60d3552bd2cd at commit index 8")]
    [InlineData("{\"level\":\"info\",\"msg\":\"restarting local member\",\"cluster-id\":\"726250854e818541\"}")]
    public void Recognises_the_server_start(string line) =>
        Assert.Matches(MemberServerStart.ServerStartedLine(), "earlier line\n" + line + "\nlater line");

    [Theory]
    [InlineData("2026-11-30 02:03:41.805491 I | embed: advertise client URLs = http://el10:2379")]
    [InlineData("{\"level\":\"info\",\"msg\":\"starting an etcd server\",\"etcd-version\":\"3.5.16\"}")]
    [InlineData("2026-11-30 02:03:43.859814 I | etcdserver: starting server... [version: 3.4.23, cluster version: to_be_decided]")]
    [InlineData("{\"level\":\"info\",\"msg\":\"starting remote peer\",\"remote-peer-id\":\"c6bb610b5680e0d4\"}")]
    public void Does_not_take_earlier_or_other_lines_for_it(string line) =>
        Assert.DoesNotMatch(MemberServerStart.ServerStartedLine(), line);
}
