using System.Globalization;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Pki;

namespace K3dEtcd.Tests;

/// <summary>Test-K3dDatastore's Certificates check on real files (dates cross-checked with openssl x509 -enddate).</summary>
public sealed class DatastoreCertificatesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"k3detcd-dsc-{Guid.NewGuid():N}"[..24]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static DateTime OpenSslEnd(string file)
    {
        var r = Cli.Run("openssl", "x509", "-in", file, "-noout", "-enddate");
        Assert.True(r.ExitCode == 0, r.Output);
        var text = System.Text.RegularExpressions.Regex.Replace(r.Output.Trim().Replace("notAfter=", ""), @"\s+", " ");
        return DateTime.ParseExact(text, "MMM d HH:mm:ss yyyy 'GMT'", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
    }

    [Fact]
    public void Every_CA_of_a_bundle_and_the_client_certificate_pass_warn_and_fail_by_their_NotAfter()
    {
        var dir = Path.Combine(_root, "dsc");
        var tls = ClusterTlsStore.Create(dir, "dsc", ["dsc0"], [], 200, NullOperationLog.Instance);
        // A rotation's bundle: a second CA, valid 100 days, in the same CA file.
        using var second = CertificateAuthority.Create("second", 100);
        File.AppendAllText(tls.CaFile, second.CertificatePem + "\n");
        var ds = new DatastoreTarget { Endpoint = "https://dsc0:2379", Kind = DatastoreKind.Etcd, CaFile = tls.CaFile, CertFile = tls.ClientCertFile, KeyFile = tls.ClientKeyFile };
        var clientEnd = OpenSslEnd(tls.ClientCertFile);
        var secondPem = Path.Combine(_root, "second.pem");
        File.WriteAllText(secondPem, second.CertificatePem);
        var secondEnd = OpenSslEnd(secondPem);

        var (now, nowWarning) = DatastoreCertificates.Check(ds, null);
        Assert.True(now!.Passed, now.Detail);
        Assert.Null(nowWarning);
        Assert.Equal("Certificates", now.Name);
        Assert.Contains($"CA second ({tls.CaFile}) until {secondEnd:u}", now.Detail);
        Assert.Contains($"client k3detcd-client ({tls.ClientCertFile}) until {clientEnd:u}", now.Detail);

        // 80 days on: the second CA ends within 30 days (a warning, the check passes); not a K3dEtcd directory, so no cluster named.
        var (soon, soonWarning) = DatastoreCertificates.Check(ds, null, now: DateTime.UtcNow.AddDays(80));
        Assert.True(soon!.Passed, soon.Detail);
        Assert.StartsWith("CertificateExpiresSoon: ", soonWarning);
        Assert.Contains($"CA second ({tls.CaFile}) until {secondEnd:u}", soonWarning);
        Assert.DoesNotContain("k3detcd-client", soonWarning);
        Assert.Contains("renew it with the CA that issued it", soonWarning);

        // 250 days on: everything has expired; the check fails and says what k3s does.
        var (late, _) = DatastoreCertificates.Check(ds, null, now: DateTime.UtcNow.AddDays(250));
        Assert.False(late!.Passed);
        Assert.StartsWith("CertificateExpired: ", late.Detail);
        Assert.Contains($"client k3detcd-client ({tls.ClientCertFile}) until {clientEnd:u} (expired)", late.Detail);
        Assert.Contains("x509: certificate has expired", late.Detail);

        // No TLS files: no check.
        Assert.Null(DatastoreCertificates.Check(ds with { CaFile = null, CertFile = null, KeyFile = null }, null).Check);
    }
}
