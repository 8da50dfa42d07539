using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using K3dEtcd.Common;
using K3dEtcd.Pki;

namespace K3dEtcd.Tests;

/// <summary>The certificate authority and the TLS directory, checked with openssl and stat (independent tools).</summary>
public sealed class PkiTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"k3detcd-pki-{Guid.NewGuid():N}"[..24], "clusters");

    public void Dispose()
    {
        var top = Path.GetDirectoryName(_root)!;
        if (Directory.Exists(top)) Directory.Delete(top, recursive: true);
    }

    private EtcdTlsInfoAndDir CreateMaterial(string cluster = "pkitest", string[]? sans = null, int days = 30)
    {
        var dir = ClusterTlsStore.ClusterDirectory(_root, cluster);
        var info = ClusterTlsStore.Create(dir, cluster, [$"{cluster}0", $"{cluster}1"], ClusterTlsStore.ServerSans("127.0.0.1", sans ?? []), days, NullOperationLog.Instance);
        return new(info, dir);
    }

    private sealed record EtcdTlsInfoAndDir(Model.EtcdTlsInfo Info, string Dir);

    private static string OpenSsl(params string[] args)
    {
        var r = Cli.Run("openssl", args);
        Assert.True(r.ExitCode == 0, r.Output);
        return r.Output;
    }

    [Fact]
    public void Every_certificate_verifies_with_openssl_and_has_the_expected_sans_and_usages()
    {
        var (info, dir) = CreateMaterial(sans: ["etcd.example.test", "192.0.2.10", "2001:db8::1"]);
        var ca = info.CaFile;

        var caText = OpenSsl("x509", "-in", ca, "-noout", "-text");
        Assert.Contains("CA:TRUE", caText);
        Assert.Contains("Certificate Sign, CRL Sign", caText);

        var clientText = OpenSsl("x509", "-in", info.ClientCertFile, "-noout", "-text");
        Assert.Contains("TLS Web Client Authentication", clientText);
        Assert.DoesNotContain("TLS Web Server Authentication", clientText);
        // A client has no fixed address, so its certificate names none.
        Assert.DoesNotContain("Subject Alternative Name", clientText);
        Assert.Contains("CA:FALSE", clientText);
        Assert.Contains(": OK", OpenSsl("verify", "-CAfile", ca, "-purpose", "sslclient", info.ClientCertFile));

        foreach (var member in new[] { "pkitest0", "pkitest1" })
        {
            var m = ClusterTlsStore.MemberDirectory(dir, member);
            Assert.Equal(File.ReadAllText(ca), File.ReadAllText(Path.Combine(m, "ca.pem")));
            var server = Path.Combine(m, "server.pem");
            var peer = Path.Combine(m, "peer.pem");
            Assert.Contains(": OK", OpenSsl("verify", "-CAfile", ca, "-purpose", "sslserver", server));
            Assert.Contains(": OK", OpenSsl("verify", "-CAfile", ca, "-purpose", "sslclient", server));
            Assert.Contains(": OK", OpenSsl("verify", "-CAfile", ca, "-purpose", "sslserver", peer));
            Assert.Contains(": OK", OpenSsl("verify", "-CAfile", ca, "-purpose", "sslclient", peer));

            var serverText = OpenSsl("x509", "-in", server, "-noout", "-text");
            Assert.Contains($"Subject: CN = {member}", serverText);
            Assert.Contains($"DNS:{member}, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:etcd.example.test, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:1", serverText);
            Assert.Contains("TLS Web Server Authentication, TLS Web Client Authentication", serverText);
            Assert.Contains("ASN1 OID: prime256v1", serverText);

            var peerText = OpenSsl("x509", "-in", peer, "-noout", "-text");
            Assert.Contains($"DNS:{member}", peerText);
            Assert.DoesNotContain("localhost", peerText);
            Assert.Contains("TLS Web Server Authentication, TLS Web Client Authentication", peerText);

            // The keys are what openssl (and so Go's crypto/tls) read as the certificates' keys.
            foreach (var (cert, key) in new[] { (server, "server-key.pem"), (peer, "peer-key.pem") })
            {
                var fromCert = OpenSsl("x509", "-in", cert, "-noout", "-pubkey");
                var fromKey = OpenSsl("pkey", "-in", Path.Combine(m, key), "-pubout");
                Assert.Equal(fromCert, fromKey);
            }
        }
    }

    [Fact]
    public void Private_keys_are_0600_and_directories_0700_certificates_world_readable()
    {
        Assert.False(OperatingSystem.IsWindows(), "this test checks Unix modes");
        var (_, dir) = CreateMaterial();
        var modes = Cli.Run("bash", "-c", $"cd '{dir}' && stat -c '%a %n' . *.pem members members/*/ members/*/*.pem").Output;
        var lines = modes.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 4 + 1 + 2 + 2 * 5, lines.Length);
        foreach (var line in lines)
        {
            var (mode, name) = (line[..3], line[4..]);
            var expected = name.EndsWith("-key.pem", StringComparison.Ordinal) ? "600" : name.EndsWith(".pem", StringComparison.Ordinal) ? "644" : "700";
            // members/ itself is made by CreateDirectory with the same owner-only mode.
            Assert.True(expected == mode, $"{name} has mode {mode}, expected {expected}");
        }
    }

    [Fact]
    public void Serials_are_random_positive_16_bytes()
    {
        var serials = Enumerable.Range(0, 200).Select(_ => CertificateAuthority.NewSerial()).ToList();
        Assert.All(serials, s => { Assert.Equal(16, s.Length); Assert.InRange(s[0], 1, 0x7F); });
        Assert.Equal(serials.Count, serials.Select(Convert.ToHexString).Distinct().Count());
        using var ca = CertificateAuthority.Create("serials", 10);
        var a = X509Certificate2.CreateFromPem(ca.Issue("a", CertificateRole.Client, [], 10).CertificatePem);
        var b = X509Certificate2.CreateFromPem(ca.Issue("a", CertificateRole.Client, [], 10).CertificatePem);
        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
        Assert.Equal(32, a.SerialNumber.Length);
    }

    [Fact]
    public void Validity_is_configurable_and_never_outlives_the_ca()
    {
        using var ca = CertificateAuthority.Create("validity", 30);
        Assert.InRange(ca.NotAfter, DateTime.UtcNow.AddDays(30).AddMinutes(-1), DateTime.UtcNow.AddDays(30).AddMinutes(1));
        var shorter = ca.Issue("x", CertificateRole.Client, [], 7);
        Assert.InRange(shorter.NotAfter, DateTime.UtcNow.AddDays(7).AddMinutes(-1), DateTime.UtcNow.AddDays(7).AddMinutes(1));
        var longer = ca.Issue("x", CertificateRole.Client, [], 3000);
        Assert.True(longer.NotAfter <= ca.NotAfter);
        Assert.Throws<ArgumentOutOfRangeException>(() => ca.Issue("x", CertificateRole.Client, [], 0));
        Assert.DoesNotContain("PRIVATE KEY", longer.ToString());
    }

    [Fact]
    public void A_leftover_directory_is_refused_and_left_untouched()
    {
        var (_, dir) = CreateMaterial("again");
        var before = File.ReadAllText(Path.Combine(dir, "ca.pem"));
        var ex = Assert.Throws<K3dEtcdException>(() => ClusterTlsStore.Create(dir, "again", ["again0"], [], 30, NullOperationLog.Instance));
        Assert.Equal("TlsDirectoryExists", ex.ErrorId);
        Assert.Equal(FailureKind.ResourceExists, ex.Kind);
        Assert.Equal(before, File.ReadAllText(Path.Combine(dir, "ca.pem")));
    }

    [Fact]
    public void The_data_directory_follows_xdg_and_localappdata()
    {
        string? Env(string name, string? value) => name == "XDG_DATA_HOME" || name == "LOCALAPPDATA" ? value : null;
        Assert.Equal("/x/data/k3detcd/clusters", ClusterTlsStore.Root(n => Env(n, "/x/data"), false, "/home/u"));
        Assert.Equal("/home/u/.local/share/k3detcd/clusters", ClusterTlsStore.Root(n => Env(n, null), false, "/home/u"));
        // A relative XDG_DATA_HOME is invalid per the XDG spec and ignored.
        Assert.Equal("/home/u/.local/share/k3detcd/clusters", ClusterTlsStore.Root(n => Env(n, "relative/dir"), false, "/home/u"));
        Assert.Equal(Path.Combine("C:/Users/u/AppData/Local", "k3detcd", "clusters"), ClusterTlsStore.Root(n => Env(n, "C:/Users/u/AppData/Local"), true, "C:/Users/u"));
    }

    [Theory]
    [InlineData("etcd.example.test", true)]
    [InlineData("192.0.2.10", true)]
    [InlineData("2001:db8::1", true)]
    [InlineData("*.example.test", true)]
    [InlineData("bad name", false)]
    [InlineData("-leading.dash", false)]
    [InlineData("a..b", false)]
    [InlineData("", false)]
    public void Tls_sans_are_validated(string san, bool valid)
    {
        if (valid) { ClusterTlsStore.ValidateSan(san); return; }
        var ex = Assert.Throws<K3dEtcdException>(() => ClusterTlsStore.ValidateSan(san));
        Assert.Equal("InvalidTlsSan", ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }

    [Fact]
    public void Server_validation_trusts_only_our_ca_and_checks_usage()
    {
        var (info, dir) = CreateMaterial("trust");
        var (other, _) = CreateMaterial("other");
        using var ca = TlsClientFactory.LoadCertificate(info.CaFile);
        using var server = TlsClientFactory.LoadCertificate(Path.Combine(ClusterTlsStore.MemberDirectory(dir, "trust0"), "server.pem"));
        using var otherServer = TlsClientFactory.LoadCertificate(Path.Combine(ClusterTlsStore.MemberDirectory(ClusterTlsStore.ClusterDirectory(_root, "other"), "other0"), "server.pem"));
        using var clientOnly = TlsClientFactory.LoadCertificate(info.ClientCertFile);

        Assert.True(TlsClientFactory.IsTrusted(ca, server, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(TlsClientFactory.IsTrusted(ca, otherServer, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(TlsClientFactory.IsTrusted(ca, server, SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(TlsClientFactory.IsTrusted(ca, clientOnly, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(TlsClientFactory.IsTrusted(ca, null, SslPolicyErrors.RemoteCertificateNotAvailable));
        _ = other;
    }

    [Fact]
    public void Client_certificates_are_issued_from_the_clusters_ca_and_never_overwrite_silently()
    {
        var (info, _) = CreateMaterial("issue");
        var output = Path.Combine(Path.GetDirectoryName(_root)!, "out");
        var cert = ClusterTlsStore.IssueClient(info, "issue", "system:k3s", output, 10, overwrite: false, NullOperationLog.Instance);
        Assert.Equal(Path.Combine(output, "system_k3s.pem"), cert.CertFile);
        Assert.Equal(Path.Combine(output, "system_k3s-key.pem"), cert.KeyFile);
        Assert.Equal(File.ReadAllText(info.CaFile), File.ReadAllText(cert.CaFile));
        Assert.Contains(": OK", OpenSsl("verify", "-CAfile", info.CaFile, "-purpose", "sslclient", cert.CertFile));
        Assert.Contains("CN = system:k3s", OpenSsl("x509", "-in", cert.CertFile, "-noout", "-subject"));
        Assert.Equal("600", Cli.Run("stat", "-c", "%a", cert.KeyFile).Output.Trim());

        var ex = Assert.Throws<K3dEtcdException>(() => ClusterTlsStore.IssueClient(info, "issue", "system:k3s", output, 10, overwrite: false, NullOperationLog.Instance));
        Assert.Equal("ClientCertificateFileExists", ex.ErrorId);
        var firstKey = File.ReadAllText(cert.KeyFile);
        var again = ClusterTlsStore.IssueClient(info, "issue", "system:k3s", output, 10, overwrite: true, NullOperationLog.Instance);
        Assert.NotEqual(firstKey, File.ReadAllText(again.KeyFile));
        Assert.Equal("600", Cli.Run("stat", "-c", "%a", again.KeyFile).Output.Trim());

        var bad = Assert.Throws<K3dEtcdException>(() => ClusterTlsStore.IssueClient(info, "issue", "a/b", output, 10, false, NullOperationLog.Instance));
        Assert.Equal("InvalidCommonName", bad.ErrorId);
    }
}
