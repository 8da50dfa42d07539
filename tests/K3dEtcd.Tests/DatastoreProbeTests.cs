using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>Test-K3dDatastore's probe against real etcd containers: plain, stopped member, unreachable network, TLS and a wrong CA.</summary>
[Collection(DockerServicesCollection.Name)]
public sealed class DatastoreProbeTests(DockerFixture fx)
{
    private DatastoreProbe Probe => new(fx.Adapter(), NullOperationLog.Instance);

    private static DatastoreTarget Target(EtcdCluster c, string? network = null, string? image = null) => new()
    {
        Endpoint = string.Join(",", c.NetworkEndpoints),
        Kind = DatastoreKind.Etcd,
        Network = network ?? c.Network,
        ProbeImage = image ?? c.Image,
    };

    private static Dictionary<string, K3dDatastoreCheck> ByName(IEnumerable<K3dDatastoreCheck> checks) => checks.ToDictionary(c => c.Name);

    [Fact]
    public async Task Plain_cluster_passes_every_check_then_a_stopped_member_fails_health_only()
    {
        var etcd = await fx.Service().CreateAsync(fx.Spec("probe"), CancellationToken.None);
        try
        {
            var checks = ByName(await Probe.TestAsync(Target(etcd), null, CancellationToken.None));
            Assert.Equal(["Health", "Write", "ReadBack", "Bootstrap"], checks.Keys);
            Assert.All(checks.Values, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
            Assert.Contains("3/3 endpoints healthy", checks["Health"].Detail);
            // etcdctl from the host: the scratch key was written and deleted (revision moved, nothing left).
            var left = Cli.Run("etcdctl", "--endpoints", etcd.Endpoints[0], "get", "", "--prefix", "--keys-only");
            Assert.Equal("", left.Output.Trim());

            Assert.Equal(0, Cli.Run("docker", "stop", "-t", "1", etcd.Members[2].ContainerName).ExitCode);
            var degraded = ByName(await Probe.TestAsync(Target(etcd), null, CancellationToken.None));
            Assert.False(degraded["Health"].Passed);
            Assert.Contains("2/3 endpoints healthy", degraded["Health"].Detail);
            Assert.Contains(etcd.Members[2].NetworkClientUrl, degraded["Health"].Detail);
            Assert.True(degraded["Write"].Passed, degraded["Write"].Detail);
            Assert.True(degraded["ReadBack"].Passed, degraded["ReadBack"].Detail);
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_network_the_probe_cannot_reach_fails_health_and_tries_nothing_else()
    {
        var etcd = await fx.Service().CreateAsync(fx.Spec("probenet", size: 1), CancellationToken.None);
        // This test's own tag of the image: its probe containers are told apart from those of tests
        // running beside it on the shared engine (docker ps shows the tag a container was run from).
        var image = $"k3detcd/etcd:probe-{fx.RunId}";
        Cli.Checked("docker", "tag", fx.Image, image);
        try
        {
            // The default bridge network has no DNS for the members' names.
            var checks = ByName(await Probe.TestAsync(Target(etcd, network: "bridge", image: image), null, CancellationToken.None));
            Assert.False(checks["Health"].Passed);
            Assert.Contains("0/1 endpoints healthy from network 'bridge'", checks["Health"].Detail);
            Assert.All(new[] { "Write", "ReadBack", "Bootstrap" }, n => Assert.Contains("not tried", checks[n].Detail));

            var missing = ByName(await Probe.TestAsync(Target(etcd, network: $"no-such-net-{fx.RunId}", image: image), null, CancellationToken.None));
            Assert.False(missing["Health"].Passed);
            Assert.Contains("could not join Docker network", missing["Health"].Detail);
        }
        finally
        {
            await fx.Service().RemoveAsync(etcd.Name, keepData: false, CancellationToken.None);
        }
        // No probe container of this test is left behind.
        var probes = Cli.Checked("docker", "ps", "-a", "--filter", "label=io.k3detcd.probe=datastore", "--format", "{{.ID}} {{.Image}}");
        Cli.Checked("docker", "rmi", image);
        Assert.DoesNotContain(probes.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.EndsWith(" " + image, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tls_etcd_is_probed_with_the_mounted_client_identity_and_a_wrong_ca_fails()
    {
        // Made by hand with openssl (independent of the module's own PKI): a CA, a server cert for
        // the member's network name, a client cert, and a second CA that signed nothing.
        var name = fx.UniqueName("probetls");
        var network = $"k3detcd-{name}";
        var dir = Directory.CreateTempSubdirectory("k3detcd-tls-").FullName;
        string Ssl(params string[] args)
        {
            var r = Cli.Run("openssl", args);
            Assert.True(r.ExitCode == 0, r.Output);
            return r.Output;
        }
        string P(string f) => Path.Combine(dir, f);
        Ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", P("ca.key"), "-out", P("ca.crt"));
        Ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other-ca", "-keyout", P("other.key"), "-out", P("other.crt"));
        File.WriteAllText(P("server.ext"), $"subjectAltName=DNS:{name},DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
        File.WriteAllText(P("client.ext"), "extendedKeyUsage=clientAuth\n");
        Ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", $"/CN={name}", "-keyout", P("server.key"), "-out", P("server.csr"));
        Ssl("x509", "-req", "-in", P("server.csr"), "-CA", P("ca.crt"), "-CAkey", P("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", P("server.ext"), "-out", P("server.crt"));
        Ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=k3s", "-keyout", P("client.key"), "-out", P("client.csr"));
        Ssl("x509", "-req", "-in", P("client.csr"), "-CA", P("ca.crt"), "-CAkey", P("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", P("client.ext"), "-out", P("client.crt"));
        try
        {
            Assert.Equal(0, Cli.Run("docker", "network", "create", "--label", $"io.k3detcd.cluster={name}", network).ExitCode);
            var run = Cli.Run("docker", "run", "-d", "--name", name, "--network", network, "--label", $"io.k3detcd.cluster={name}",
                "-v", $"{dir}:/certs:ro", fx.Image, "/usr/local/bin/etcd", "--name", name, "--data-dir", "/tmp/data",
                "--listen-client-urls", "https://0.0.0.0:2379", "--advertise-client-urls", $"https://{name}:2379",
                "--cert-file", "/certs/server.crt", "--key-file", "/certs/server.key", "--client-cert-auth", "--trusted-ca-file", "/certs/ca.crt");
            Assert.True(run.ExitCode == 0, run.Output);

            var target = new DatastoreTarget
            {
                Endpoint = $"https://{name}:2379",
                Kind = DatastoreKind.Etcd,
                Network = network,
                CaFile = P("ca.crt"),
                CertFile = P("client.crt"),
                KeyFile = P("client.key"),
                ProbeImage = fx.Image,
            };
            IReadOnlyList<K3dDatastoreCheck> checks = [];
            for (var i = 0; i < 20; i++)
            {
                checks = await Probe.TestAsync(target, null, CancellationToken.None);
                if (checks.All(c => c.Passed)) break;
                await Task.Delay(500);
            }
            Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));

            var wrongCa = ByName(await Probe.TestAsync(target with { CaFile = P("other.crt") }, null, CancellationToken.None));
            Assert.False(wrongCa["Health"].Passed);
            Assert.Contains("0/1", wrongCa["Health"].Detail);

            // Without a client certificate etcd (--client-cert-auth) refuses the probe, as it would refuse k3s.
            var noIdentity = ByName(await Probe.TestAsync(target with { CertFile = null, KeyFile = null }, null, CancellationToken.None));
            Assert.False(noIdentity["Health"].Passed);
        }
        finally
        {
            Cli.Run("docker", "rm", "-f", name);
            Cli.Run("docker", "network", "rm", network);
            Directory.Delete(dir, recursive: true);
        }
    }
}
