using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Clusters;

namespace K3dEtcd.Tests;

/// <summary>Placement of members on several engines: pure decisions, no engine needed.</summary>
public sealed class EnginePlacementTests
{
    private static EtcdClusterSpec Spec(int size, string[] hosts, string[]? addresses = null, int? clientPort = null) => new()
    {
        Name = "prod", Size = size, DockerHosts = hosts, AdvertiseAddresses = addresses ?? [], ClientPort = clientPort,
    };

    [Fact]
    public void One_member_per_engine_at_the_address_in_each_tcp_url_on_etcds_usual_ports()
    {
        var p = EnginePlacement.Plan(Spec(3, ["tcp://10.0.0.11:2376", "tcp://10.0.0.12:2376/", "tcp://10.0.0.13:2376"]));
        Assert.Equal(["prod0", "prod1", "prod2"], p.Select(x => x.Container));
        Assert.Equal(["tcp://10.0.0.11:2376", "tcp://10.0.0.12:2376", "tcp://10.0.0.13:2376"], p.Select(x => x.Engine));
        Assert.All(p, x => Assert.Equal((2379, 2380), (x.ClientPort, x.PeerPort)));
        Assert.Equal("https://10.0.0.12:2380", p[1].PeerUrl(tls: true));
    }

    [Fact]
    public void Fewer_engines_than_members_go_round_robin_with_a_second_port_pair_on_a_shared_address()
    {
        var p = EnginePlacement.Plan(Spec(5, ["unix:///a.sock", "unix:///b.sock"], ["127.0.0.11", "127.0.0.12"], clientPort: 12379));
        Assert.Equal(["unix:///a.sock", "unix:///b.sock", "unix:///a.sock", "unix:///b.sock", "unix:///a.sock"], p.Select(x => x.Engine));
        Assert.Equal([12379, 12379, 12381, 12381, 12383], p.Select(x => x.ClientPort));
        Assert.Equal([12380, 12380, 12382, 12382, 12384], p.Select(x => x.PeerPort));
    }

    [Fact]
    public void Two_engines_given_the_same_address_never_share_a_port()
    {
        var p = EnginePlacement.Plan(Spec(3, ["unix:///a.sock", "unix:///b.sock", "unix:///c.sock"], ["127.0.0.1", "127.0.0.1", "127.0.0.1"]));
        Assert.Equal(3, p.Select(x => x.ClientPort).Distinct().Count());
    }

    [Fact]
    public void A_given_address_wins_over_the_url_and_an_ipv6_address_is_bracketed()
    {
        var p = EnginePlacement.Plan(Spec(1, ["tcp://10.0.0.11:2376"], ["fd00::11"]));
        Assert.Equal("http://[fd00::11]:2379", p[0].ClientUrl(tls: false));
    }

    [Theory]
    [InlineData(new[] { "unix:///a.sock", "unix:///b.sock" }, new string[0], "EngineAddressRequired")]
    [InlineData(new[] { "unix:///a.sock", "unix:///a.sock/" }, new[] { "127.0.0.2", "127.0.0.3" }, "InvalidEnginePlacement")]
    [InlineData(new[] { "unix:///a.sock" }, new[] { "127.0.0.2", "127.0.0.3" }, "InvalidEnginePlacement")]
    [InlineData(new[] { "unix:///a.sock" }, new[] { "0.0.0.0" }, "InvalidEnginePlacement")]
    [InlineData(new[] { "unix:///a.sock" }, new[] { "hostb" }, "InvalidEnginePlacement")]
    [InlineData(new[] { "ssh://me@hostb" }, new string[0], "UnsupportedDockerScheme")]
    [InlineData(new[] { "ftp://hostb" }, new string[0], "InvalidDockerHost")]
    public void Lists_that_cannot_be_placed_are_refused_with_their_id(string[] hosts, string[] addresses, string errorId)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => EnginePlacement.Plan(Spec(3, hosts, addresses)));
        Assert.Equal(errorId, ex.ErrorId);
    }

    [Fact]
    public void The_placement_label_round_trips_and_ignores_what_it_cannot_read()
    {
        var p = EnginePlacement.Plan(Spec(2, ["unix:///a.sock", "tcp://10.0.0.12:2376"], ["127.0.0.11"]));
        var label = string.Join(";", p.Select(x => x.Serialize()));
        Assert.Equal(p, MemberPlacement.Parse(label));
        Assert.Single(MemberPlacement.Parse("prod0=unix:///a.sock|127.0.0.11|2379|2380;garbage;prod1=x|y"));
    }

    [Fact]
    public void Tls_to_a_tcp_engine_follows_the_docker_cli()
    {
        var tcp = new Uri("tcp://10.0.0.12:2376");
        Func<string, string?> none = _ => null;
        Assert.Null(DockerTls.Directory(tcp, null, none));
        Assert.Equal("/certs", DockerTls.Directory(tcp, "/certs", none));
        Assert.Equal("/env-certs", DockerTls.Directory(tcp, null, n => n switch { "DOCKER_TLS_VERIFY" => "1", "DOCKER_CERT_PATH" => "/env-certs", _ => null }));
        Assert.Null(DockerTls.Directory(new Uri("unix:///a.sock"), "/certs", none));
    }
}
