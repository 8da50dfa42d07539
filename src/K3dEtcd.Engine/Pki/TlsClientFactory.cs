using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace K3dEtcd.Pki;

/// <summary>
/// HTTP handlers that present a client certificate and trust exactly one CA. Server certificates
/// are always validated: the chain must end at the given CA and the name must match.
/// </summary>
public static class TlsClientFactory
{
    public static SocketsHttpHandler CreateHandler(string caFile, string? certFile, string? keyFile)
    {
        // Every CA of the file: during a CA rotation (Update-EtcdCertificate -Authority) it holds the old and the new one.
        var cas = LoadCaCertificates(caFile);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(cas, certificate, errors);
        if (certFile is not null && keyFile is not null)
        {
            handler.SslOptions.ClientCertificates = [LoadClientCertificate(certFile, keyFile)];
        }
        return handler;
    }

    public static X509Certificate2 LoadCaCertificate(string caFile) =>
        LoadCertificate(caFile);

    /// <summary>Every certificate of a PEM trust file (a rotation's bundle holds two CAs).</summary>
    public static X509Certificate2Collection LoadCaCertificates(string caFile)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(caFile);
        if (collection.Count == 0) throw new CryptographicException($"{caFile} holds no PEM certificate.");
        return collection;
    }

    /// <summary>
    /// The first certificate of a PEM file, without a key. (CreateFromPemFile with one argument
    /// looks for a key in the same file and fails when there is none.)
    /// </summary>
    public static X509Certificate2 LoadCertificate(string file) => X509Certificate2.CreateFromPem(File.ReadAllText(file));

    /// <summary>A certificate with its key, usable by SslStream on every platform.</summary>
    public static X509Certificate2 LoadClientCertificate(string certFile, string keyFile)
    {
        var certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        if (!OperatingSystem.IsWindows()) return certificate;
        // SChannel cannot use an ephemeral key; a PFX round trip gives it a usable one.
        using (certificate)
        {
            return new X509Certificate2(certificate.Export(X509ContentType.Pkcs12));
        }
    }

    /// <summary>True when the name matched and the chain ends at <paramref name="ca"/> (the system store is not consulted).</summary>
    public static bool IsTrusted(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors) => IsTrusted([ca], certificate, errors);

    /// <summary>True when the name matched and the chain ends at one of <paramref name="cas"/>.</summary>
    public static bool IsTrusted(X509Certificate2Collection cas, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        // Our CA publishes no revocation list; expiry, signatures and usages are still checked.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1")); // serverAuth
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
