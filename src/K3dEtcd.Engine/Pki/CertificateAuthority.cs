using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace K3dEtcd.Pki;

/// <summary>What an issued certificate is for; decides its extended key usages.</summary>
public enum CertificateRole
{
    /// <summary>A TLS server that also dials itself (etcd's gRPC gateway): serverAuth + clientAuth.</summary>
    Server,
    /// <summary>An etcd peer: it both accepts and opens peer connections, so serverAuth + clientAuth.</summary>
    Peer,
    /// <summary>A client such as etcdctl or k3s: clientAuth only.</summary>
    Client,
}

/// <summary>A certificate with its private key, as PEM text, ready to be written to files.</summary>
public sealed record IssuedCertificate(string CertificatePem, string PrivateKeyPem, DateTime NotAfter)
{
    // Records print their properties; a key must never end up in a log by accident.
    public override string ToString() => $"certificate valid until {NotAfter:u}";
}

/// <summary>
/// A small certificate authority on .NET's own cryptography (CertificateRequest, ECDSA P-256):
/// no cfssl or openssl needed. Go's crypto/tls (etcd, k3s) reads the PKCS#8 PEM keys it writes.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    public const int DefaultValidityDays = 365;
    public const int MaxValidityDays = 3650;

    // Containers share the host's clock, but a few minutes of slack costs nothing.
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _certificate;
    private readonly ECDsa _key;

    private CertificateAuthority(X509Certificate2 certificate, ECDsa key)
    {
        _certificate = certificate;
        _key = key;
    }

    /// <summary>The CA certificate, without its key.</summary>
    public X509Certificate2 Certificate => _certificate;

    public DateTime NotAfter => _certificate.NotAfter.ToUniversalTime();

    public string CertificatePem => _certificate.ExportCertificatePem();

    /// <summary>The CA key as PEM, for the owner-only file that lets later client certificates be issued.</summary>
    public string ExportPrivateKeyPem() => _key.ExportPkcs8PrivateKeyPem();

    public static CertificateAuthority Create(string commonName, int validityDays)
    {
        ValidateDays(validityDays);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}, O=K3dEtcd"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var selfSigned = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(key), now - ClockSkew, now.AddDays(validityDays), NewSerial());
        // Keep a key-less certificate object: the key lives only in _key.
        var certificate = new X509Certificate2(selfSigned.RawData);
        return new CertificateAuthority(certificate, key);
    }

    /// <summary>Loads a CA written earlier (New-EtcdClientCertificate on an existing cluster).</summary>
    public static CertificateAuthority Load(string certificateFile, string keyFile)
    {
        var certificate = TlsClientFactory.LoadCertificate(certificateFile);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(keyFile));
        }
        catch
        {
            key.Dispose();
            certificate.Dispose();
            throw;
        }
        using var check = certificate.GetECDsaPublicKey();
        if (check is null || !check.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            key.Dispose();
            certificate.Dispose();
            throw new CryptographicException($"The key in {keyFile} does not belong to the CA certificate {certificateFile}.");
        }
        return new CertificateAuthority(certificate, key);
    }

    /// <summary>
    /// Issues a certificate signed by this CA. IP addresses among <paramref name="subjectAltNames"/>
    /// become IP SANs, everything else DNS SANs. Validity never outlives the CA.
    /// </summary>
    public IssuedCertificate Issue(string commonName, CertificateRole role, IEnumerable<string> subjectAltNames, int validityDays)
    {
        ValidateDays(validityDays);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usages = new OidCollection();
        if (role is CertificateRole.Server or CertificateRole.Peer) usages.Add(ServerAuth);
        usages.Add(ClientAuth);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));

        var sans = new SubjectAlternativeNameBuilder();
        var any = false;
        foreach (var name in subjectAltNames.Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(name, out var ip)) sans.AddIpAddress(ip);
            else sans.AddDnsName(name);
            any = true;
        }
        if (any) request.CertificateExtensions.Add(sans.Build(false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, true, false));

        using var issued = Sign(request, validityDays);
        return new IssuedCertificate(issued.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), issued.NotAfter.ToUniversalTime());
    }

    /// <summary>
    /// The test-only knob: with K3DETCD_CERT_VALIDITY_SECONDS set to a positive number, leaf
    /// certificates (never the CA) are valid that many seconds instead of the days asked for, so
    /// tests can watch a certificate lapse. Documented in the README ("Certificates").
    /// </summary>
    public const string ValiditySecondsVariable = "K3DETCD_CERT_VALIDITY_SECONDS";

    private X509Certificate2 Sign(CertificateRequest request, int validityDays)
    {
        var now = DateTimeOffset.UtcNow;
        var notAfter = Environment.GetEnvironmentVariable(ValiditySecondsVariable) is { Length: > 0 } s && int.TryParse(s, out var seconds) && seconds > 0
            ? now.AddSeconds(seconds)
            : now.AddDays(validityDays);
        var caNotAfter = new DateTimeOffset(NotAfter, TimeSpan.Zero);
        if (notAfter > caNotAfter) notAfter = caNotAfter;
        return request.Create(_certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), now - ClockSkew, notAfter, NewSerial());
    }

    /// <summary>
    /// A renewed <paramref name="existing"/> certificate: the same subject, names, usages and
    /// public key (the key files are not touched), a new serial and validity, signed by this CA.
    /// </summary>
    public string Renew(X509Certificate2 existing, int validityDays, out DateTime notAfter)
    {
        ValidateDays(validityDays);
        var request = new CertificateRequest(existing.SubjectName, existing.PublicKey, HashAlgorithmName.SHA256);
        foreach (var ext in existing.Extensions)
        {
            if (ext.Oid?.Value == "2.5.29.35") continue; // authority key identifier: this CA's, below
            request.CertificateExtensions.Add(ext);
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, true, false));
        using var issued = Sign(request, validityDays);
        notAfter = issued.NotAfter.ToUniversalTime();
        return issued.ExportCertificatePem();
    }

    /// <summary>16 random bytes, positive and without a leading zero byte (RFC 5280: at most 20 octets, positive).</summary>
    internal static byte[] NewSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        return serial;
    }

    private static void ValidateDays(int days)
    {
        if (days is < 1 or > MaxValidityDays) throw new ArgumentOutOfRangeException(nameof(days), days, $"Certificate validity must be 1 to {MaxValidityDays} days.");
    }

    // Distinguished names treat , + " \ < > ; = as syntax; our names never need them, so quote defensively.
    private static string Escape(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? $"\"{value.Replace("\"", "\\\"")}\"" : value;

    public void Dispose()
    {
        _key.Dispose();
        _certificate.Dispose();
    }
}
