using System.Net;
using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Tests;

/// <summary>
/// TLS with client certificates against a real etcd started by hand (docker run) with
/// certificates made by openssl, so the connection layer is proven independently of our own PKI.
/// </summary>
[Collection(DockerServicesCollection.Name)]
public sealed class EtcdTlsConnectionTests(DockerFixture fx)
{
    private static void Openssl(string dir, params string[] args)
    {
        var psiArgs = args.Select(a => a.Replace("$D", dir)).ToArray();
        var r = Cli.Run("openssl", psiArgs);
        Assert.True(r.ExitCode == 0, r.Output);
    }

    private static void MakeCa(string dir, string name)
    {
        Openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", $"/CN={name}", "-keyout", $"$D/{name}-key.pem", "-out", $"$D/{name}.pem");
    }

    private static void MakeLeaf(string dir, string ca, string name, string ext)
    {
        File.WriteAllText(Path.Combine(dir, $"{name}.ext"), ext);
        Openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", $"/CN={name}",
            "-keyout", $"$D/{name}-key.pem", "-out", $"$D/{name}.csr");
        Openssl(dir, "x509", "-req", "-in", $"$D/{name}.csr", "-CA", $"$D/{ca}.pem", "-CAkey", $"$D/{ca}-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", $"$D/{name}.ext", "-out", $"$D/{name}.pem");
    }

    [Fact]
    public async Task Client_certificate_tls_works_from_files_and_from_a_cluster_model_and_a_wrong_ca_is_a_security_error()
    {
        var dir = Directory.CreateTempSubdirectory("k3detcd-tls-").FullName;
        var container = fx.UniqueName("dptls");
        try
        {
            MakeCa(dir, "ca");
            MakeCa(dir, "other-ca");
            MakeLeaf(dir, "ca", "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
            MakeLeaf(dir, "ca", "client", "extendedKeyUsage=clientAuth\n");
            // etcd in the container reads the keys as another user than ours.
            if (!OperatingSystem.IsWindows()) foreach (var f in Directory.GetFiles(dir)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            var run = Cli.Run("docker", "run", "-d", "--name", container, "--label", "io.k3detcd.test=" + fx.RunId, "-p", "127.0.0.1::2379",
                "-v", $"{dir}:/tls:ro", fx.Image, "/usr/local/bin/etcd", "--name", "tls0", "--data-dir", "/var/lib/etcd/tls0",
                "--listen-client-urls", "https://0.0.0.0:2379", "--advertise-client-urls", "https://127.0.0.1:2379",
                "--cert-file", "/tls/server.pem", "--key-file", "/tls/server-key.pem",
                "--trusted-ca-file", "/tls/ca.pem", "--client-cert-auth");
            Assert.True(run.ExitCode == 0, run.Output);
            var port = Cli.Run("docker", "port", container, "2379").Output.Trim().Split('\n')[0].Split(':')[^1];
            var endpoint = $"https://127.0.0.1:{port}";
            string F(string n) => Path.Combine(dir, n);

            var options = new EtcdConnectionOptions { Endpoints = [endpoint], CaFile = F("ca.pem"), CertFile = F("client.pem"), KeyFile = F("client-key.pem"), Timeout = TimeSpan.FromSeconds(5) };
            using var conn = EtcdConnection.Open(options);
            var keys = new EtcdKeyService(conn);
            IReadOnlyList<EtcdKeyValue> written = [];
            for (var i = 0; i < 50 && written.Count == 0; i++)
            {
                try { written = await keys.PutBatchAsync([new EtcdPut("/tls/hello", "secure"u8.ToArray())], CancellationToken.None); }
                catch (K3dEtcdException) when (i < 49) { await Task.Delay(200); }
            }
            var ctl = Cli.Run("etcdctl", "--endpoints", endpoint, "--cacert", F("ca.pem"), "--cert", F("client.pem"), "--key", F("client-key.pem"), "get", "/tls/hello", "-w", "json");
            Assert.True(ctl.ExitCode == 0, ctl.Output);
            var kv = JsonDocument.Parse(ctl.Output).RootElement.GetProperty("kvs")[0];
            Assert.Equal(written[0].ModRevision, kv.GetProperty("mod_revision").GetInt64());

            // The HTTP side uses the same TLS: /health with the client certificate.
            var (status, body) = await conn.GetHttpAsync(endpoint, "/health", CancellationToken.None);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("true", body);

            // A cluster object whose Tls the TLS helper filled in connects with no extra parameters.
            var cluster = new EtcdCluster
            {
                Name = container,
                Members = [new EtcdClusterMember { Name = "tls0", ClientUrl = endpoint }],
                Tls = new EtcdTlsInfo { Directory = dir, CaFile = F("ca.pem"), ClientCertFile = F("client.pem"), ClientKeyFile = F("client-key.pem") },
            };
            using var fromModel = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster));
            var members = await new EtcdClusterStatusService(fromModel).GetMembersAsync(new Dictionary<string, string?> { ["tls0"] = endpoint }, CancellationToken.None);
            Assert.True(Assert.Single(members).Healthy);

            // Wrong CA: the server certificate is not trusted.
            using var wrong = EtcdConnection.Open(options with { CaFile = F("other-ca.pem") });
            var ex = await Assert.ThrowsAsync<K3dEtcdException>(() => new EtcdKeyService(wrong).CountAsync(new EtcdKeyQuery { Key = "/tls/hello" }, CancellationToken.None));
            Assert.Equal(("EtcdTlsHandshakeFailed", FailureKind.SecurityError), (ex.ErrorId, ex.Kind));

            // No client certificate: etcd refuses us.
            using var anonymous = EtcdConnection.Open(options with { CertFile = null, KeyFile = null });
            var ex2 = await Assert.ThrowsAsync<K3dEtcdException>(() => new EtcdKeyService(anonymous).CountAsync(new EtcdKeyQuery { Key = "/tls/hello" }, CancellationToken.None));
            Assert.Equal(("EtcdClientCertificateRequired", FailureKind.SecurityError), (ex2.ErrorId, ex2.Kind));
            Assert.Contains("-CertFile", ex2.Message);
        }
        finally
        {
            Cli.Run("docker", "rm", "-f", "-v", container);
            Directory.Delete(dir, recursive: true);
        }
    }
}
