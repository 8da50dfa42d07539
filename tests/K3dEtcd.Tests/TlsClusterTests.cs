using System.Text.Json;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Clusters;
using K3dEtcd.Members;

namespace K3dEtcd.Tests;

/// <summary>TLS clusters against real etcd, checked with etcdctl, curl, openssl and docker.</summary>
[Collection(DockerServicesCollection.Name)]
public sealed class TlsClusterTests(DockerFixture fx)
{
    private static (int ExitCode, string Output) Etcdctl(EtcdTlsInfo? tls, string endpoint, params string[] args) => Etcdctl(tls, endpoint, "5s", args);

    // A refused handshake shows up as a timeout in etcdctl, so calls expected to fail get a short one.
    private static (int ExitCode, string Output) Refused(EtcdTlsInfo? tls, string endpoint, params string[] args) => Etcdctl(tls, endpoint, "1s", args);

    private static (int ExitCode, string Output) Etcdctl(EtcdTlsInfo? tls, string endpoint, string timeout, string[] args)
    {
        var all = new List<string> { "--endpoints", endpoint, "--dial-timeout", "2s", "--command-timeout", timeout };
        if (tls is not null) all.AddRange(["--cacert", tls.CaFile, "--cert", tls.ClientCertFile, "--key", tls.ClientKeyFile]);
        all.AddRange(args);
        return Cli.Run("etcdctl", [.. all]);
    }

    [Fact]
    public async Task A_tls_cluster_serves_only_authenticated_https_and_its_peers_talk_tls()
    {
        var log = new RecordingLog();
        var spec = fx.Spec("tls") with { Tls = true, TlsSans = ["etcd.example.test", "192.0.2.10"], CertificateValidityDays = 20 };
        var cluster = await fx.Service(log).CreateAsync(spec, CancellationToken.None);
        var otherCa = Path.Combine(Path.GetTempPath(), $"k3detcd-otherca-{fx.RunId}", "clusters", "other");
        try
        {
            var tls = cluster.Tls;
            Assert.NotNull(tls);
            Assert.Equal(spec.TlsDirectory, tls.Directory);
            Assert.StartsWith(ClusterTlsStore.DefaultRoot(), tls.Directory);
            Assert.Equal(Path.Combine(tls.Directory, "ca.pem"), tls.CaFile);
            Assert.InRange(tls.NotAfter!.Value, DateTime.UtcNow.AddDays(20).AddMinutes(-5), DateTime.UtcNow.AddDays(20).AddMinutes(5));
            Assert.DoesNotContain(log.Lines, l => l.Contains("PRIVATE KEY", StringComparison.Ordinal) || l.Contains("BEGIN", StringComparison.Ordinal));

            // A certificate from another CA, made with the same code so only the CA differs.
            var other = ClusterTlsStore.Create(otherCa, "other", ["other0"], [], 5, NullOperationLog.Instance);
            var foreign = new EtcdTlsInfo { CaFile = tls.CaFile, ClientCertFile = other.ClientCertFile, ClientKeyFile = other.ClientKeyFile };

            var leaders = new HashSet<string>();
            foreach (var member in cluster.Members)
            {
                Assert.Matches(@"^https://127\.0\.0\.1:\d+$", member.ClientUrl);
                Assert.Equal($"https://{member.ContainerName}:2379", member.NetworkClientUrl);
                Assert.Equal($"https://{member.ContainerName}:2380", member.PeerUrl);

                var ok = Etcdctl(tls, member.ClientUrl!, "endpoint", "health");
                Assert.True(ok.ExitCode == 0, ok.Output);
                Assert.Contains("is healthy", ok.Output);

                var noCert = Refused(null, member.ClientUrl!, "--cacert", tls.CaFile, "endpoint", "health");
                Assert.NotEqual(0, noCert.ExitCode);
                var plain = Refused(null, member.ClientUrl!.Replace("https://", "http://"), "endpoint", "health");
                Assert.NotEqual(0, plain.ExitCode);
                var wrongCa = Refused(foreign, member.ClientUrl!, "endpoint", "health");
                Assert.NotEqual(0, wrongCa.ExitCode);
                // curl as a second client: refused without a certificate (for that reason: etcd's TLS alert), served with one.
                var curlNoCert = Cli.Run("curl", "-sS", "--max-time", "5", "--cacert", tls.CaFile, $"{member.ClientUrl}/health");
                Assert.NotEqual(0, curlNoCert.ExitCode);
                Assert.Matches("bad certificate|certificate required", curlNoCert.Output);
                var curlPlain = Cli.Run("curl", "-sS", "--max-time", "5", $"{member.ClientUrl!.Replace("https://", "http://")}/health");
                Assert.Equal(52, curlPlain.ExitCode); // "Empty reply from server": the TLS port does not speak plain HTTP
                Assert.Contains("\"health\":\"true\"", Cli.Run("curl", "-sS", "--max-time", "5", "--cacert", tls.CaFile, "--cert", tls.ClientCertFile, "--key", tls.ClientKeyFile, $"{member.ClientUrl}/health").Output);

                // Peers advertise https, and the IDs in our labels are the ones etcd derived from those URLs.
                var list = Etcdctl(tls, member.ClientUrl!, "member", "list", "-w", "json");
                Assert.True(list.ExitCode == 0, list.Output);
                using var doc = JsonDocument.Parse(list.Output);
                var members = doc.RootElement.GetProperty("members").EnumerateArray().ToList();
                Assert.All(members, m => Assert.StartsWith("https://", m.GetProperty("peerURLs")[0].GetString()));
                Assert.Equal(cluster.Members.ToDictionary(m => m.Name, m => m.Id),
                    members.ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("ID").GetUInt64().ToString("x")));

                var status = Etcdctl(tls, member.ClientUrl!, "endpoint", "status", "-w", "json");
                using var st = JsonDocument.Parse(status.Output);
                leaders.Add(st.RootElement[0].GetProperty("Status").GetProperty("leader").GetUInt64().ToString("x"));

                // The member's material is mounted read-only, and only its own.
                using var ins = JsonDocument.Parse(Cli.Run("docker", "inspect", member.ContainerName).Output);
                var mount = ins.RootElement[0].GetProperty("Mounts").EnumerateArray().Single(m => m.GetProperty("Destination").GetString() == "/etc/etcd/pki");
                Assert.False(mount.GetProperty("RW").GetBoolean());
                Assert.Equal(ClusterTlsStore.MemberDirectory(tls.Directory, member.ContainerName), mount.GetProperty("Source").GetString());
                var labels = ins.RootElement[0].GetProperty("Config").GetProperty("Labels");
                Assert.Equal(tls.Directory, labels.GetProperty("io.k3detcd.tls-dir").GetString());
                Assert.Equal("true", labels.GetProperty("io.k3detcd.tls").GetString());
            }
            // Refused for the right reasons, as the member itself reports them.
            var memberLog = Cli.Run("docker", "logs", cluster.Members[0].ContainerName).Output;
            Assert.Contains("client didn't provide a certificate", memberLog);
            Assert.Contains("first record does not look like a TLS handshake", memberLog);
            Assert.Contains("unknown authority", memberLog);

            Assert.Single(leaders);
            Assert.Contains(leaders.Single(), cluster.Members.Select(m => m.Id));

            // Exactly what k3s will do: a container on the cluster network, the in-network URL, CA and client cert.
            var fromNetwork = Cli.Run("docker", "run", "--rm", "--network", cluster.Network, "-v", $"{tls.Directory}:/pki:ro", fx.Image,
                "/usr/local/bin/etcdctl", "--endpoints", string.Join(",", cluster.NetworkEndpoints), "--cacert", "/pki/ca.pem", "--cert", "/pki/client.pem", "--key", "/pki/client-key.pem",
                "--dial-timeout", "5s", "endpoint", "health");
            Assert.True(fromNetwork.ExitCode == 0, fromNetwork.Output);
            Assert.Equal(3, fromNetwork.Output.Split('\n').Count(l => l.Contains("is healthy")));

            // Our own https probe validates the server against the cluster CA, and fails against another CA.
            using (var http = new HttpClient(QuorumWait.CreateProbeHandler(cluster)) { Timeout = TimeSpan.FromSeconds(5) })
            {
                Assert.True(await new EtcdHttpProbe(http).IsHealthyAsync(cluster.Members[0].ClientUrl!, CancellationToken.None));
            }
            using (var http = new HttpClient(TlsClientFactory.CreateHandler(other.CaFile, tls.ClientCertFile, tls.ClientKeyFile)) { Timeout = TimeSpan.FromSeconds(5) })
            {
                Assert.False(await new EtcdHttpProbe(http).IsHealthyAsync(cluster.Members[0].ClientUrl!, CancellationToken.None));
            }

            var again = await fx.Service().GetAsync(spec.Name, CancellationToken.None);
            Assert.Equal(JsonSerializer.Serialize(cluster), JsonSerializer.Serialize(again));
        }
        finally
        {
            await fx.Service().RemoveAsync(spec.Name, keepData: false, CancellationToken.None);
            if (Directory.Exists(Path.GetDirectoryName(Path.GetDirectoryName(otherCa)))) Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(otherCa))!, true);
        }
        Assert.False(Directory.Exists(spec.TlsDirectory), "Remove deletes the TLS directory");
        Assert.Equal("", Cli.Run("docker", "ps", "-aq", "--filter", $"label=io.k3detcd.cluster={spec.Name}").Output.Trim());
    }

    [Fact]
    public async Task KeepData_keeps_the_tls_directory_and_a_leftover_directory_is_refused_before_docker_is_touched()
    {
        var spec = fx.Spec("tlskeep", size: 1) with { Tls = true };
        await fx.Service().CreateAsync(spec, CancellationToken.None);
        try
        {
            var removed = await fx.Service().RemoveAsync(spec.Name, keepData: true, CancellationToken.None);
            Assert.Null(removed.TlsDirectory);
            Assert.True(File.Exists(Path.Combine(spec.TlsDirectory, "ca.pem")));
            foreach (var v in removed.Volumes) Assert.Fail($"volume {v} should be kept");
            // Ask Docker, not the module's report: the volume is still there, and its container is gone.
            var volume = EtcdClusterSpec.VolumeName(spec.Name, 0);
            Assert.Equal(0, Cli.Run("docker", "volume", "inspect", volume).ExitCode);
            Assert.NotEqual(0, Cli.Run("docker", "inspect", EtcdClusterSpec.ContainerName(spec.Name, 0)).ExitCode);
            await fx.Docker.Volumes.RemoveAsync(volume, true);

            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
            Assert.Equal("TlsDirectoryExists", ex.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, ex.Kind);
            Assert.Contains(spec.TlsDirectory, ex.Message);
            Assert.Empty(await fx.Docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = Labels.ClusterFilter(spec.Name) }));
            Assert.True(File.Exists(Path.Combine(spec.TlsDirectory, "ca.pem")), "the refused attempt must not delete the leftover");
        }
        finally
        {
            await fx.Service().RemoveAsync(spec.Name, keepData: false, CancellationToken.None);
            if (Directory.Exists(spec.TlsDirectory)) Directory.Delete(spec.TlsDirectory, true);
        }
    }

    [Fact]
    public async Task A_failed_tls_cluster_rolls_back_its_tls_directory_too()
    {
        var spec = fx.Spec("tlsrb", size: 1) with { Tls = true, ExtraArguments = ["--no-such-flag=1"], Timeout = TimeSpan.FromSeconds(30) };
        var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => fx.Service().CreateAsync(spec, CancellationToken.None));
        Assert.Equal("MemberExited", ex.ErrorId);
        Assert.False(Directory.Exists(spec.TlsDirectory));
        Assert.Empty(await fx.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Labels.ClusterFilter(spec.Name) }));
    }

    [Fact]
    public async Task A_member_added_to_a_tls_cluster_gets_its_own_certificates_and_https_peer_url_and_loses_them_when_removed()
    {
        var spec = fx.Spec("tlsadd", size: 1) with { Tls = true, TlsSans = ["etcd.example.test"] };
        var cluster = await fx.Service().CreateAsync(spec, CancellationToken.None);
        try
        {
            var members = new EtcdMemberService(fx.Service(), NullOperationLog.Instance) { Timeout = TimeSpan.FromSeconds(60) };
            var added = await members.AddMemberAsync(spec.Name, CancellationToken.None);
            var tls = cluster.Tls!;
            Assert.Equal($"https://{added.ContainerName}:2380", added.PeerUrl);
            Assert.StartsWith("https://", added.ClientUrl);

            var dir = ClusterTlsStore.MemberDirectory(tls.Directory, added.ContainerName);
            var server = Path.Combine(dir, "server.pem");
            Assert.Contains(": OK", Cli.Run("openssl", "verify", "-CAfile", tls.CaFile, "-purpose", "sslserver", server).Output);
            var text = Cli.Run("openssl", "x509", "-in", server, "-noout", "-ext", "subjectAltName").Output;
            Assert.Contains($"DNS:{added.ContainerName}", text);
            Assert.Contains("DNS:etcd.example.test", text);
            Assert.DoesNotContain($"DNS:{cluster.Members[0].ContainerName},", text + ",");
            Assert.Equal("600", Cli.Run("stat", "-c", "%a", Path.Combine(dir, "server-key.pem")).Output.Trim());

            var health = Etcdctl(tls, added.ClientUrl!, "endpoint", "health");
            Assert.True(health.ExitCode == 0, health.Output);
            var list = Etcdctl(tls, cluster.Members[0].ClientUrl!, "member", "list", "-w", "json");
            using var doc = JsonDocument.Parse(list.Output);
            var listed = doc.RootElement.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(2, listed.Count);
            Assert.All(listed, m => Assert.StartsWith("https://", m.GetProperty("peerURLs")[0].GetString()));
            Assert.Contains(listed, m => m.GetProperty("ID").GetUInt64().ToString("x") == added.Id);

            await members.RemoveMemberAsync(spec.Name, added.Name, CancellationToken.None);
            Assert.False(Directory.Exists(dir));
            Assert.True(File.Exists(tls.CaFile));
        }
        finally
        {
            await fx.Service().RemoveAsync(spec.Name, keepData: false, CancellationToken.None);
        }
        Assert.False(Directory.Exists(spec.TlsDirectory));
    }

    [Fact]
    public void Tls_options_are_validated_before_anything_is_made()
    {
        void Expect(EtcdClusterSpec spec, string id)
        {
            var ex = Assert.Throws<K3dEtcdException>(() => EtcdClusterService.ValidateSpec(spec));
            Assert.Equal(id, ex.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        }
        Expect(fx.Spec("v") with { TlsSans = ["a.example"] }, "TlsSanWithoutTls");
        Expect(fx.Spec("v") with { Tls = true, TlsSans = ["not valid"] }, "InvalidTlsSan");
        Expect(fx.Spec("v") with { Tls = true, CertificateValidityDays = 0 }, "InvalidCertificateValidity");
        Expect(fx.Spec("v") with { Tls = true, CertificateValidityDays = 4000 }, "InvalidCertificateValidity");
    }

    [Fact]
    public void The_etcd_command_of_a_tls_member_uses_https_and_client_certificate_auth()
    {
        var spec = fx.Spec("cmd") with { Tls = true };
        var command = EtcdCommandLine.Build("m0", "m0=https://m0:2380", "new", spec);
        var joined = string.Join(' ', command);
        Assert.Contains("--listen-client-urls https://0.0.0.0:2379 --advertise-client-urls https://m0:2379 --listen-peer-urls https://0.0.0.0:2380 --initial-advertise-peer-urls https://m0:2380", joined);
        Assert.Contains("--client-cert-auth --trusted-ca-file /etc/etcd/pki/ca.pem --cert-file /etc/etcd/pki/server.pem --key-file /etc/etcd/pki/server-key.pem", joined);
        Assert.Contains("--peer-client-cert-auth --peer-trusted-ca-file /etc/etcd/pki/ca.pem --peer-cert-file /etc/etcd/pki/peer.pem --peer-key-file /etc/etcd/pki/peer-key.pem", joined);
        Assert.DoesNotContain("http://", joined);
    }

    private sealed class RecordingLog : IOperationLog
    {
        public List<string> Lines { get; } = [];
        public void Verbose(string message) { lock (Lines) Lines.Add(message); }
        public void Warning(string message) { lock (Lines) Lines.Add(message); }
        public void Progress(OperationProgress progress) { lock (Lines) Lines.Add(progress.Status); }
    }
}
