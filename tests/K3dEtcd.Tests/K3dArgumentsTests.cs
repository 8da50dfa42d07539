using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.K3d;

namespace K3dEtcd.Tests;

public sealed class K3dArgumentsTests
{
    private static readonly DatastoreTarget TlsEtcd = new()
    {
        Endpoint = "https://etcd0:2379,https://etcd1:2379,https://etcd2:2379",
        Kind = DatastoreKind.Etcd,
        Network = "k3detcd-etcd",
        CaFile = "/home/u/.local/share/k3detcd/etcd/ca.crt",
        CertFile = "/home/u/.local/share/k3detcd/etcd/k3s-client.crt",
        KeyFile = "/home/u/.local/share/k3detcd/etcd/k3s-client.key",
        EtcdClusterName = "etcd",
    };

    private static K3dClusterSpec Seed(DatastoreTarget ds) => new()
    {
        Name = "topgun",
        Datastore = ds,
        Servers = 3,
        Agents = 5,
        TlsSan = ["192.0.2.10", "k3s.example.test"],
        Token = "s3cret-token",
    };

    private static K3dVersion V(string text) => K3dVersion.ParseText($"k3d version {text}\nk3s version v1.31.5-k3s1 (default)");

    [Fact]
    public void Seed_case_on_k3d_v5_passes_token_and_datastore_in_a_config_file_and_mounts_read_only()
    {
        var built = K3dArguments.Create(Seed(TlsEtcd), V("v5.8.3"), "/tmp/private/k3d-config.yaml");
        Assert.Equal(new[]
        {
            "cluster", "create", "topgun", "--servers", "3", "--agents", "5", "--network", "k3detcd-etcd",
            "--config", "/tmp/private/k3d-config.yaml",
            "-v", "/home/u/.local/share/k3detcd/etcd/ca.crt:/etc/k3detcd/datastore/ca.crt:ro@server:*",
            "-v", "/home/u/.local/share/k3detcd/etcd/k3s-client.crt:/etc/k3detcd/datastore/client.crt:ro@server:*",
            "-v", "/home/u/.local/share/k3detcd/etcd/k3s-client.key:/etc/k3detcd/datastore/client.key:ro@server:*",
            "--k3s-arg", "--tls-san=192.0.2.10@server:*",
            "--k3s-arg", "--tls-san=k3s.example.test@server:*",
            "--runtime-label", "io.k3detcd.datastore=etcd cluster etcd@server:*",
            "--runtime-label", "io.k3detcd.etcd-cluster=etcd@server:*",
            "--wait", "--timeout", "300s",
        }, built.Arguments);
        Assert.DoesNotContain(built.Arguments, a => a.Contains("s3cret-token", StringComparison.Ordinal) || a.Contains("K3S_DATASTORE", StringComparison.Ordinal));
        Assert.Equal("k3d.io/v1alpha5", built.ConfigApiVersion);
        using var config = JsonDocument.Parse(built.ConfigContent!);
        Assert.Equal("s3cret-token", config.RootElement.GetProperty("token").GetString());
        Assert.Equal(new[]
        {
            "K3S_DATASTORE_ENDPOINT=https://etcd0:2379,https://etcd1:2379,https://etcd2:2379",
            "K3S_DATASTORE_CAFILE=/etc/k3detcd/datastore/ca.crt",
            "K3S_DATASTORE_CERTFILE=/etc/k3detcd/datastore/client.crt",
            "K3S_DATASTORE_KEYFILE=/etc/k3detcd/datastore/client.key",
        }, config.RootElement.GetProperty("env").EnumerateArray().Select(e => e.GetProperty("envVar").GetString()));
        Assert.All(config.RootElement.GetProperty("env").EnumerateArray(), e => Assert.Equal("[\"server:*\"]", e.GetProperty("nodeFilters").GetRawText().Replace(" ", "").Replace("\n", "")));
        Assert.DoesNotContain("s3cret-token", built.ConfigDisplay);
        Assert.DoesNotContain("s3cret-token", string.Join(' ', built.Display));
    }

    [Theory]
    [InlineData("v5.0.0", "k3d.io/v1alpha3")]
    [InlineData("v5.2.2", "k3d.io/v1alpha3")]
    [InlineData("v5.3.0", "k3d.io/v1alpha4")]
    [InlineData("v5.4.9", "k3d.io/v1alpha4")]
    [InlineData("v5.5.0", "k3d.io/v1alpha5")]
    [InlineData("v5.9.0", "k3d.io/v1alpha5")]
    public void Each_k3d_v5_gets_the_config_apiVersion_it_reads_natively(string version, string apiVersion)
    {
        var built = K3dArguments.Create(Seed(TlsEtcd), V(version), "/tmp/p/k3d-config.yaml");
        Assert.Equal(apiVersion, built.ConfigApiVersion);
        using var config = JsonDocument.Parse(built.ConfigContent!);
        Assert.Equal(apiVersion, config.RootElement.GetProperty("apiVersion").GetString());
        Assert.Equal(["apiVersion", "kind", "token", "env"], config.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void At_signs_inside_values_are_escaped_and_passwords_masked_for_display()
    {
        var pg = new DatastoreTarget { Endpoint = "postgres://k3s:p@ss@db:5432/k3s", Kind = DatastoreKind.Postgres, Network = "dbnet" };
        var built = K3dArguments.Create(Seed(pg) with { K3sArguments = ["--node-label=owner=a@b"] }, V("v5.8.3"));
        // In the config file the node filter is a list of its own: the value keeps its '@' as is.
        Assert.Contains("K3S_DATASTORE_ENDPOINT=postgres://k3s:p@ss@db:5432/k3s", JsonDocument.Parse(built.ConfigContent!).RootElement.GetProperty("env")[0].GetProperty("envVar").GetString());
        Assert.Contains(@"--node-label=owner=a\@b@server:*", built.Arguments);
        Assert.Contains("K3S_DATASTORE_ENDPOINT=postgres://k3s:***@db:5432/k3s", built.ConfigDisplay);
        Assert.DoesNotContain("p@ss", built.ConfigDisplay);
        Assert.DoesNotContain(built.Display, a => a.Contains("p\\@ss", StringComparison.Ordinal) || a.Contains("p@ss", StringComparison.Ordinal));
        Assert.Contains(@"io.k3detcd.datastore=postgres://k3s:***\@db:5432/k3s@server:*", built.Arguments);
        // k3d v4 reads no config file from this module: the DSN is an --env value there, escaped, with a warning.
        var v4 = K3dArguments.Create(Seed(pg), V("v4.4.8"));
        Assert.Contains(@"K3S_DATASTORE_ENDPOINT=postgres://k3s:p\@ss\@db:5432/k3s@server[*]", v4.Arguments);
        Assert.Contains(v4.Warnings, w => w.Contains("process list", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("v4.4.8", "--k3s-server-arg", "server[*]", "--label", "--kubeconfig-update-default=false")]
    [InlineData("v4.0.0", "--k3s-server-arg", "server[*]", "--label", "--kubeconfig-update-default=false")]
    [InlineData("v3.4.0", "--k3s-server-arg", "server[*]", "--label", "--update-default-kubeconfig=false")]
    public void Older_k3d_gets_its_own_flags(string version, string argFlag, string filter, string labelFlag, string kubeconfigFlag)
    {
        var built = K3dArguments.Create(Seed(TlsEtcd) with { NoKubeconfigUpdate = true }, V(version));
        var a = built.Arguments.ToList();
        Assert.DoesNotContain("--k3s-arg", a);
        Assert.DoesNotContain("--runtime-label", a);
        Assert.Equal("--tls-san=192.0.2.10", a[a.IndexOf(argFlag) + 1]);
        Assert.Contains($"K3S_DATASTORE_ENDPOINT=https://etcd0:2379,https://etcd1:2379,https://etcd2:2379@{filter}", a);
        Assert.Contains($"/home/u/.local/share/k3detcd/etcd/ca.crt:/etc/k3detcd/datastore/ca.crt:ro@{filter}", a);
        Assert.Contains(labelFlag, a);
        Assert.Contains(kubeconfigFlag, a);
    }

    [Fact]
    public void K3d_v3_before_3_4_has_no_env_flag_so_the_endpoint_becomes_a_server_argument_with_a_warning()
    {
        var built = K3dArguments.Create(Seed(TlsEtcd), V("v3.0.0"));
        Assert.DoesNotContain("-e", built.Arguments);
        Assert.Contains("--datastore-endpoint=https://etcd0:2379,https://etcd1:2379,https://etcd2:2379", built.Arguments);
        Assert.Contains("--datastore-cafile=/etc/k3detcd/datastore/ca.crt", built.Arguments);
        Assert.Contains(built.Warnings, w => w.Contains("process lists", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("v1.7.0")]
    [InlineData("v0.9.0")]
    [InlineData("v3.0.0-rc.6")]
    [InlineData("v2.0.0")]
    public void K3d_before_v3_is_refused(string version)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => V(version).EnsureSupported("/usr/local/bin/k3d"));
        Assert.Equal("UnsupportedK3dVersion", ex.ErrorId);
        Assert.Equal(FailureKind.NotImplemented, ex.Kind);
        Assert.Contains(version, ex.Message);
    }

    [Theory]
    [InlineData("k3d version v5.8.3\nk3s version v1.31.5-k3s1 (default)\n", 5, 8, 3, K3dSyntax.V5)]
    [InlineData("k3d version v4.4.8\nk3s version v1.21.7-k3s1 (default)\n", 4, 4, 8, K3dSyntax.V4)]
    [InlineData("k3d version v3.4.0\n", 3, 4, 0, K3dSyntax.V3)]
    [InlineData("k3d version v3.0.2\n", 3, 0, 2, K3dSyntax.V3Early)]
    [InlineData("k3d version v5-dev\nk3s version v1.30.0-k3s1 (default)", 5, 0, 0, K3dSyntax.V5)]
    public void Version_text_is_parsed(string text, int major, int minor, int patch, K3dSyntax syntax)
    {
        var v = K3dVersion.ParseText(text);
        Assert.Equal(new Version(major, minor, patch), v.Number);
        Assert.Equal(syntax, v.Syntax);
    }

    [Fact]
    public void Version_json_is_parsed()
    {
        var v = K3dVersion.ParseJson("""{"k3d":"v5.8.3","k3s":"v1.31.5-k3s1"}""");
        Assert.Equal("v5.8.3", v.Text);
        Assert.Equal("v1.31.5-k3s1", v.K3sVersion);
        Assert.True(v.SupportsJsonVersion);
    }

    [Theory]
    [InlineData("http://etcd0:2379", DatastoreKind.Etcd)]
    [InlineData("https://a:2379, https://b:2379", DatastoreKind.Etcd)]
    [InlineData("postgres://k3s:secret@db:5432/k3s", DatastoreKind.Postgres)]
    [InlineData("postgresql://k3s:secret@db/k3s?sslmode=disable", DatastoreKind.Postgres)]
    [InlineData("postgres://k3s:p@ss@db:5432/k3s", DatastoreKind.Postgres)]
    [InlineData("mysql://k3s:secret@tcp(db:3306)/k3s", DatastoreKind.MySql)]
    [InlineData("nats://nats:4222", DatastoreKind.Nats)]
    public void Valid_datastores(string endpoint, DatastoreKind kind) => Assert.Equal(kind, K3dDatastore.Validate(endpoint));

    [Theory]
    [InlineData("etcd", "SQLite")]
    [InlineData("mysql://k3s:secret@db:3306/k3s", "tcp(")]
    [InlineData("http://a:2379,https://b:2379", "mixes")]
    [InlineData("http://a:2379/v3", "path")]
    [InlineData("sqlite:///var/lib/k3s.db", "not a k3s external datastore")]
    [InlineData("mydatabase", "plain word")]
    [InlineData("postgres://k3s:secret@/k3s", "PostgreSQL")]
    [InlineData("", "empty")]
    public void Invalid_datastores_are_refused_with_an_explanation(string endpoint, string explanation)
    {
        var ex = Assert.Throws<K3dEtcdException>(() => K3dDatastore.Validate(endpoint));
        Assert.Equal("InvalidDatastore", ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains(explanation, ex.Message);
        Assert.DoesNotContain("secret", ex.Message);
    }

    [Theory]
    [InlineData("postgres://k3s:secret@db:5432/k3s", "postgres://k3s:***@db:5432/k3s")]
    [InlineData("mysql://root:pa:ss@tcp(db:3306)/k3s", "mysql://root:***@tcp(db:3306)/k3s")]
    [InlineData("http://etcd0:2379", "http://etcd0:2379")]
    public void Masking(string endpoint, string masked) => Assert.Equal(masked, K3dDatastore.Mask(endpoint));

    [Fact]
    public void Bootstrap_key_is_12_hex_of_sha256_of_the_token()
    {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        Assert.Equal("/bootstrap/ba7816bf8f01", DatastoreProbe.BootstrapKey("abc"));
        var sealedData = System.Text.Encoding.UTF8.GetBytes(K3sBootstrapFormat.Encrypt("abc", [42]));
        Assert.True(DatastoreProbe.EvaluateBootstrap([("/bootstrap/ba7816bf8f01", sealedData)], [(null, "abc")], true, "x").Passed);
        var other = DatastoreProbe.EvaluateBootstrap([("/bootstrap/ba7816bf8f01", sealedData)], [(null, "another")], true, "x");
        Assert.False(other.Passed);
        Assert.Contains("different token", other.Detail);
        Assert.False(DatastoreProbe.EvaluateBootstrap([("/bootstrap/ba7816bf8f01", sealedData)], [], false, "x").Passed);
        Assert.True(DatastoreProbe.EvaluateBootstrap([], [], false, "x").Passed);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("K3S_DATASTORE_ENDPOINT=postgres://k3s:p\\@ss@db:5432/k3s@server:*")]
    [InlineData("it's $HOME `whoami` \"q\" a;b|c&d")]
    [InlineData("")]
    [InlineData("--tls-san=192.0.2.10@server:*")]
    public void Posix_quoting_round_trips_through_sh(string value)
    {
        var line = CommandLineQuoting.Posix("printf", ["%s\\n", value]);
        var (exit, output) = Cli.Run("sh", "-c", line);
        Assert.Equal(0, exit);
        Assert.Equal(value + "\n", output);
    }

    [Fact]
    public void Cluster_list_json_is_read_case_insensitively_in_the_shapes_of_v5_and_v4()
    {
        // Shaped like real `k3d cluster list -o json` (v5): JSON tags plus Go-cased State, Binding, HostPort.
        const string v5 = """
            [{"name":"topgun","network":{"name":"k3detcd-etcd","id":"f1","isExternal":true,"ipam":{"ipsUsed":null,"managed":false},"Members":null},
              "nodes":[
                {"name":"k3d-topgun-serverlb","role":"loadbalancer","image":"ghcr.io/k3d-io/k3d-proxy:5.8.3","State":{"Running":true,"Status":"running","Started":""},
                 "portMappings":{"6443/tcp":[{"HostIp":"0.0.0.0","HostPort":"6550"}]}},
                {"name":"k3d-topgun-server-0","role":"server","image":"rancher/k3s:v1.31.5-k3s1","extraArgs":["--tls-san=192.0.2.10","--tls-san","k3s.example.test"],
                 "runtimeLabels":{"io.k3detcd.datastore":"etcd cluster etcd","io.k3detcd.etcd-cluster":"etcd","k3d.role":"server"},
                 "serverOpts":{"kubeAPI":{"Port":"6443/tcp","Binding":{"HostIp":"0.0.0.0","HostPort":"6550"},"host":"0.0.0.0"}},
                 "State":{"Running":true,"Status":"running","Started":""},"IP":{"IP":"172.18.0.3","Static":false}},
                {"name":"k3d-topgun-agent-0","role":"agent","State":{"Running":false,"Status":"exited","Started":""}}],
              "imageVolume":"k3d-topgun-images","serversRunning":1,"serversCount":1,"agentsRunning":0,"agentsCount":1,"hasLoadbalancer":true}]
            """;
        var c = Assert.Single(K3dClusterList.Parse(v5));
        Assert.Equal("topgun", c.Name);
        Assert.Equal("k3detcd-etcd", c.Network);
        Assert.Equal((1, 1, 0, 1), (c.ServersRunning, c.ServersCount, c.AgentsRunning, c.AgentsCount));
        Assert.Equal("https://0.0.0.0:6550", c.ApiEndpoint);
        Assert.Equal("etcd", c.EtcdClusterLabel);
        Assert.Equal(["192.0.2.10", "k3s.example.test"], c.TlsSans);
        Assert.False(c.Nodes.Single(n => n.Role == "agent").Running);

        // v4: Go-cased Labels, no serverOpts host, counts computed when absent.
        const string v4 = """[{"name":"old","network":{"name":"k3d-old"},"nodes":[{"name":"k3d-old-server-0","role":"server","Labels":{"io.k3detcd.datastore":"postgres://k3s:***@db:5432/k3s"},"state":{"running":true,"status":"running"}}]}]""";
        var o = Assert.Single(K3dClusterList.Parse(v4));
        Assert.Equal("postgres://k3s:***@db:5432/k3s", o.DatastoreLabel);
        Assert.Equal((1, 1), (o.ServersRunning, o.ServersCount));
        Assert.Empty(K3dClusterList.Parse("[]"));
        Assert.Equal("K3dOutputUnreadable", Assert.Throws<K3dEtcdException>(() => K3dClusterList.Parse("FATA[0000] boom")).ErrorId);
    }

    [Theory]
    [InlineData("\u001b[36mINFO\u001b[0m[0001] Creating node 'k3d-x-server-0'         ", "info", "Creating node 'k3d-x-server-0'")]
    [InlineData("time=\"2024-01-01T00:00:00Z\" level=fatal msg=\"Cluster creation FAILED, all changes have been rolled back!\"", "fatal", "Cluster creation FAILED, all changes have been rolled back!")]
    [InlineData("ERRO[0012] Failed to create cluster >>> Rolling Back", "error", "Failed to create cluster >>> Rolling Back")]
    public void K3d_log_lines_are_parsed_in_both_logrus_formats(string line, string level, string message)
    {
        var parsed = K3dLogLine.Parse(line);
        Assert.NotNull(parsed);
        Assert.Equal(level, parsed!.Level);
        Assert.Equal(message, parsed.Message);
    }
}
