using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>
/// The client certificate New-K3dCluster issues for a k3d cluster's k3s servers from a TLS etcd
/// cluster's CA: three files in &lt;tls dir&gt;/k3d/&lt;k3d name&gt;/, mounted read-only into the servers.
/// </summary>
public static class K3sClientCertificate
{
    public static string DirectoryFor(string tlsDirectory, string k3dName) => Path.Combine(tlsDirectory, "k3d", k3dName);

    public static string CommonName(string k3dName) => $"k3s-{k3dName}";

    /// <summary>Certificate, key and CA copy, in that order.</summary>
    public static string[] Files(string tlsDirectory, string k3dName)
    {
        var dir = DirectoryFor(tlsDirectory, k3dName);
        var cn = CommonName(k3dName);
        return [Path.Combine(dir, $"{cn}.pem"), Path.Combine(dir, $"{cn}-key.pem"), Path.Combine(dir, Pki.ClusterTlsStore.CaFileName)];
    }

    /// <summary>
    /// Removes exactly the files this module made there, then the directory if nothing else is in
    /// it (a file the user put there stays, and so does its directory). Returns what was removed.
    /// </summary>
    public static IReadOnlyList<string> Remove(string tlsDirectory, string k3dName, IOperationLog log)
    {
        var removed = new List<string>();
        foreach (var file in Files(tlsDirectory, k3dName))
        {
            try
            {
                if (!File.Exists(file)) continue;
                File.Delete(file);
                removed.Add(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                log.Warning($"Could not remove {file}: {ex.Message}");
            }
        }
        var dir = DirectoryFor(tlsDirectory, k3dName);
        try
        {
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Could not remove {dir}: {ex.Message}");
        }
        return removed;
    }
}
