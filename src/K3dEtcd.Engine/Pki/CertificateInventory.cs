using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace K3dEtcd.Pki;

/// <summary>A certificate file the module issued for a cluster, and what it is for.</summary>
/// <param name="Role">CA, Server, Peer, Client, K3s or Issued.</param>
/// <param name="Member">The member container (Server, Peer), the k3d cluster (K3s) or the common name (Issued).</param>
/// <param name="Path">The certificate file.</param>
/// <param name="KeyPath">Its key file (never read here).</param>
/// <param name="CaCopy">The CA copy that belongs with a client certificate (k3s and issued ones), if any.</param>
public sealed record CertificateFile(string Role, string? Member, string Path, string? KeyPath, string? CaCopy = null);

/// <summary>One client certificate New-EtcdClientCertificate wrote outside the TLS directory (recorded in issued.json).</summary>
public sealed record IssuedRecord(string CommonName, string CertFile, string KeyFile, string CaFile);

/// <summary>
/// Every certificate of a cluster's TLS directory: the CA, the cluster's client certificate, each
/// member's server and peer certificates, the k3s certificates of New-K3dCluster
/// (&lt;dir&gt;/k3d/&lt;name&gt;/) and the client certificates New-EtcdClientCertificate wrote
/// elsewhere, which it records (since this version) in &lt;dir&gt;/issued.json.
/// </summary>
public static class CertificateInventory
{
    public const string IssuedFileName = "issued.json";

    public static IReadOnlyList<CertificateFile> Files(string directory)
    {
        var files = new List<CertificateFile>
        {
            new("CA", null, Path.Combine(directory, ClusterTlsStore.CaFileName), Path.Combine(directory, ClusterTlsStore.CaKeyFileName)),
            new("Client", null, Path.Combine(directory, ClusterTlsStore.ClientCertFileName), Path.Combine(directory, ClusterTlsStore.ClientKeyFileName)),
        };
        var members = Path.Combine(directory, ClusterTlsStore.MembersDirectoryName);
        if (Directory.Exists(members))
        {
            foreach (var member in Directory.GetDirectories(members).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(member);
                files.Add(new("Server", name, Path.Combine(member, ClusterTlsStore.ServerCertFileName), Path.Combine(member, ClusterTlsStore.ServerKeyFileName), Path.Combine(member, ClusterTlsStore.CaFileName)));
                files.Add(new("Peer", name, Path.Combine(member, ClusterTlsStore.PeerCertFileName), Path.Combine(member, ClusterTlsStore.PeerKeyFileName), Path.Combine(member, ClusterTlsStore.CaFileName)));
            }
        }
        var k3d = Path.Combine(directory, "k3d");
        if (Directory.Exists(k3d))
        {
            foreach (var cluster in Directory.GetDirectories(k3d).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(cluster);
                var stem = $"k3s-{name}";
                var cert = Path.Combine(cluster, $"{stem}.pem");
                if (File.Exists(cert)) files.Add(new("K3s", name, cert, Path.Combine(cluster, $"{stem}-key.pem"), Path.Combine(cluster, ClusterTlsStore.CaFileName)));
            }
        }
        foreach (var issued in Issued(directory).Where(r => File.Exists(r.CertFile)))
        {
            files.Add(new("Issued", issued.CommonName, issued.CertFile, issued.KeyFile, issued.CaFile));
        }
        return files.Where(f => File.Exists(f.Path)).ToList();
    }

    /// <summary>The client certificates recorded by New-EtcdClientCertificate (the newest record per certificate path).</summary>
    public static IReadOnlyList<IssuedRecord> Issued(string directory)
    {
        var path = Path.Combine(directory, IssuedFileName);
        if (!File.Exists(path)) return [];
        try
        {
            return (JsonSerializer.Deserialize<List<IssuedRecord>>(File.ReadAllText(path)) ?? [])
                .GroupBy(r => r.CertFile, StringComparer.Ordinal).Select(g => g.Last()).ToList();
        }
        catch (JsonException) { return []; }
    }

    /// <summary>Records a client certificate written outside the TLS directory, so renewals find it.</summary>
    public static void Record(string directory, IssuedRecord record)
    {
        var records = Issued(directory).Where(r => r.CertFile != record.CertFile).Append(record).ToList();
        var path = Path.Combine(directory, IssuedFileName);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The earliest NotAfter of the directory's certificates (null when none can be read).</summary>
    public static DateTime? SoonestExpiry(string directory)
    {
        DateTime? soonest = null;
        foreach (var file in Files(directory))
        {
            try
            {
                using var cert = TlsClientFactory.LoadCertificate(file.Path);
                var notAfter = cert.NotAfter.ToUniversalTime();
                if (soonest is null || notAfter < soonest) soonest = notAfter;
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { }
        }
        return soonest;
    }

    /// <summary>
    /// Test-EtcdCluster's and Test-K3dDatastore's certificate check: CertificateExpired when a
    /// certificate of the cluster has expired, and a CertificateExpiresSoon warning text when one
    /// expires within <paramref name="warnDays"/> days; both name Update-EtcdCertificate.
    /// </summary>
    public static (K3dEtcd.Common.K3dEtcdException? Expired, string? Warning) CheckExpiry(string directory, string cluster, int warnDays = 30, IEnumerable<string>? onlyPaths = null)
    {
        var now = DateTime.UtcNow;
        var expired = new List<string>();
        var soon = new List<string>();
        var only = onlyPaths?.Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal);
        foreach (var file in Files(directory).Where(f => only is null || only.Contains(Path.GetFullPath(f.Path))))
        {
            try
            {
                using var cert = TlsClientFactory.LoadCertificate(file.Path);
                var notAfter = cert.NotAfter.ToUniversalTime();
                var what = $"{file.Role}{(file.Member is null ? "" : $" {file.Member}")} ({file.Path}, {notAfter:u})";
                if (notAfter <= now) expired.Add(what);
                else if (notAfter <= now.AddDays(warnDays)) soon.Add(what);
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { }
        }
        var fix = expired.Any(e => e.StartsWith("CA", StringComparison.Ordinal)) || soon.Any(e => e.StartsWith("CA", StringComparison.Ordinal))
            ? $"the CA itself expires: run 'Update-EtcdCertificate -Cluster {cluster} -Authority' (a new CA, rotated in two phases; it reissues every certificate)"
            : $"run 'Update-EtcdCertificate -Cluster {cluster}'";
        var error = expired.Count == 0 ? null : new K3dEtcd.Common.K3dEtcdException(K3dEtcd.Common.ErrorCatalog.CertificateExpired,
            $"{expired.Count} certificate{(expired.Count == 1 ? " has" : "s have")} expired in cluster '{cluster}': {string.Join("; ", expired)}. Members and clients holding {(expired.Count == 1 ? "it" : "them")} are refused; {fix}.", cluster);
        var warning = soon.Count == 0 ? null
            : $"{K3dEtcd.Common.ErrorCatalog.CertificateExpiresSoon.Id}: {soon.Count} certificate{(soon.Count == 1 ? "" : "s")} of cluster '{cluster}' expire{(soon.Count == 1 ? "s" : "")} within {warnDays} days: {string.Join("; ", soon)}; {fix}.";
        return (error, warning);
    }

    /// <summary>SANs of a certificate: DNS names, then IP addresses.</summary>
    public static string[] Sans(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(ip => ip.ToString()))).ToArray();

    /// <summary>
    /// Writes a certificate file whose path is mounted into containers as a whole directory: a
    /// temporary file beside it, then a rename, so a reader (etcd on each handshake) sees the old
    /// file or the new one, never half of one.
    /// </summary>
    public static void ReplaceByRename(string path, string pem)
    {
        var temp = path + ".renew";
        if (File.Exists(temp)) File.Delete(temp);
        PemFiles.WriteCertificate(temp, pem);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Rewrites a file in place (the same inode, its mode kept): k3d bind-mounts single files into
    /// k3s servers, and a file replaced by a rename is not what such a container sees.
    /// </summary>
    public static void RewriteInPlace(string path, string pem)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(pem.EndsWith('\n') ? pem : pem + "\n");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        stream.Write(bytes);
        stream.SetLength(bytes.Length);
        stream.Flush(flushToDisk: true);
    }
}
