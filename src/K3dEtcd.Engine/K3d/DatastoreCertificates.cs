using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.K3d;

/// <summary>
/// Test-K3dDatastore's Certificates check: the expiry of the CA file (every certificate in it: a
/// rotation bundle holds two), the client certificate the probe and the k3s servers present, and,
/// for an etcd cluster of this module, the k3s client certificates New-K3dCluster issued. Under 30
/// days a CertificateExpiresSoon warning, once expired the check fails; both name the fix.
/// </summary>
public static class DatastoreCertificates
{
    /// <summary>The check (null when the datastore has no TLS files) and the warning text, if any.</summary>
    public static (K3dDatastoreCheck? Check, string? Warning) Check(DatastoreTarget ds, EtcdCluster? etcd, int warnDays = 30, DateTime? now = null)
    {
        var at = now ?? DateTime.UtcNow;
        var files = new List<(string What, string Path)>();
        if (ds.CaFile is not null) files.Add(("CA", ds.CaFile));
        if (ds.CertFile is not null) files.Add((IsK3s(ds.CertFile) ? "k3s client" : "client", ds.CertFile));
        if (etcd?.Tls is { } tls)
        {
            foreach (var f in CertificateInventory.Files(tls.Directory).Where(f => f.Role == "K3s")) files.Add(($"k3s client of k3d cluster '{f.Member}'", f.Path));
        }
        if (files.Count == 0) return (null, null);
        var cluster = etcd?.Tls is not null ? etcd.Name : files.Select(f => ClusterOf(f.Path)).FirstOrDefault(n => n is not null);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var all = new List<string>();
        var expired = new List<string>();
        var soon = new List<string>();
        var unreadable = new List<string>();
        var caAffected = false;
        foreach (var (what, path) in files)
        {
            var full = Path.GetFullPath(path);
            if (!seen.Add(full)) continue;
            var collection = new X509Certificate2Collection();
            try { collection.ImportFromPemFile(full); }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { unreadable.Add($"{what} ({full}: {ex.Message})"); continue; }
            // A CA file may hold several CAs (a rotation's bundle); a client file's first certificate is the one presented.
            var used = what == "CA" ? collection.ToList() : collection.Take(1).ToList();
            foreach (var cert in used)
            {
                var notAfter = cert.NotAfter.ToUniversalTime();
                var text = $"{what} {cert.GetNameInfo(X509NameType.SimpleName, false)} ({full}) until {notAfter:u}";
                if (notAfter <= at) { expired.Add(text); all.Add(text + " (expired)"); caAffected |= what == "CA"; }
                else if (notAfter <= at.AddDays(warnDays)) { soon.Add(text); all.Add(text + $" (within {warnDays} days)"); caAffected |= what == "CA"; }
                else all.Add(text);
            }
            foreach (var cert in collection) cert.Dispose();
        }
        var fix = cluster is null
            ? "renew it with the CA that issued it (these files are not from a K3dEtcd cluster)"
            : caAffected ? $"run 'Update-EtcdCertificate -Cluster {cluster} -Authority' (a new CA; it reissues every certificate)" : $"run 'Update-EtcdCertificate -Cluster {cluster}'";
        var shown = ds.Masked;
        string? warning = soon.Count == 0 ? null
            : $"{ErrorCatalog.CertificateExpiresSoon.Id}: {soon.Count} certificate{(soon.Count == 1 ? "" : "s")} of datastore '{shown}' expire{(soon.Count == 1 ? "s" : "")} within {warnDays} days: {string.Join("; ", soon)}; {fix}.";
        var listed = string.Join("; ", all);
        var detail = expired.Count > 0
            ? $"{ErrorCatalog.CertificateExpired.Id}: {listed}: k3s fails with \"x509: certificate has expired or is not yet valid\"; {fix}"
            : soon.Count > 0 ? $"{ErrorCatalog.CertificateExpiresSoon.Id}: {listed}; {fix}" : listed;
        if (unreadable.Count > 0) detail += $"; could not read {string.Join("; ", unreadable)}";
        return (new K3dDatastoreCheck { Name = "Certificates", Passed = expired.Count == 0 && unreadable.Count == 0, Detail = detail, Datastore = shown }, warning);
    }

    private static bool IsK3s(string path) => Path.GetFileName(path).StartsWith("k3s-", StringComparison.Ordinal) && Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(path)))) == "k3d";

    /// <summary>The K3dEtcd cluster whose TLS directory (under the default data root) holds <paramref name="path"/>, if any.</summary>
    internal static string? ClusterOf(string path)
    {
        var root = Path.GetFullPath(ClusterTlsStore.DefaultRoot()).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(path);
        if (!full.StartsWith(root, StringComparison.Ordinal)) return null;
        var name = full[root.Length..].Split(Path.DirectorySeparatorChar)[0];
        return File.Exists(Path.Combine(root, name, ClusterTlsStore.CaFileName)) ? name : null;
    }
}
