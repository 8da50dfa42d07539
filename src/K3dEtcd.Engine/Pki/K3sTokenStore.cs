using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Pki;

/// <summary>
/// The k3s token New-K3dCluster keeps for a k3d cluster: &lt;etcd cluster dir&gt;/k3d/&lt;k3d name&gt;/token,
/// next to the k3s client certificate (K3d.K3sClientCertificate). The etcd cluster's directory is its
/// TLS directory, or for a plain cluster the place a TLS directory of that name would have, so the
/// token goes with the etcd cluster (Remove-EtcdCluster) and is kept with its data (-KeepData).
/// </summary>
public static class K3sTokenStore
{
    public const string FileName = "token";
    public const string K3dDirectoryName = "k3d";

    /// <summary>
    /// The etcd cluster's private directory: its TLS directory, or for a plain cluster the place a
    /// TLS directory of that name would have (ClusterTlsStore.DefaultRoot()/&lt;name&gt;).
    /// </summary>
    public static string EtcdDirectory(EtcdCluster etcd) => etcd.Tls?.Directory ?? ClusterTlsStore.ClusterDirectory(ClusterTlsStore.DefaultRoot(), etcd.Name);

    public static string FileFor(string etcdDirectory, string k3dName) => Path.Combine(etcdDirectory, K3dDirectoryName, k3dName, FileName);

    public static string FileFor(EtcdCluster etcd, string k3dName) => FileFor(EtcdDirectory(etcd), k3dName);

    /// <summary>The kept token, or null when there is none.</summary>
    public static string? Read(string file)
    {
        try
        {
            if (!File.Exists(file)) return null;
            var text = File.ReadAllText(file).TrimEnd('\r', '\n');
            return text.Length == 0 ? null : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new K3dEtcdException(ErrorCatalog.K3sTokenFileFailed, $"The kept k3s token {file} cannot be read: {ex.Message}", file, ex);
        }
    }

    /// <summary>
    /// Keeps a token: written to a new 0600 file in the 0700 directory (created 0700 with its missing
    /// parents), then renamed over the old one, so a reader sees the old or the new token, never half.
    /// </summary>
    public static void Write(string file, string token)
    {
        var dir = Path.GetDirectoryName(file)!;
        var temp = Path.Combine(dir, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            PemFiles.CreatePrivateDirectory(dir);
            if (!OperatingSystem.IsWindows())
            {
                // A k3d/<name>/ directory made earlier (by the client certificate) is made owner-only too.
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Encoding.UTF8.GetBytes(token + "\n"));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new K3dEtcdException(ErrorCatalog.K3sTokenFileFailed, $"The k3s token could not be kept in {file}: {ex.Message}", file, ex);
        }
    }

    /// <summary>
    /// Removes a kept token file, then each directory above it up to the etcd cluster's directory
    /// (k3d/&lt;name&gt;/, k3d/, and a plain cluster's directory) that is left empty; a TLS directory
    /// keeps its CA, so it is never empty. An empty directory in the TLS place would read as a TLS
    /// directory a create left behind.
    /// </summary>
    public static bool Remove(string file, IOperationLog log)
    {
        try
        {
            if (!File.Exists(file)) return false;
            File.Delete(file);
            var k3dName = Path.GetDirectoryName(file)!;
            var k3d = Path.GetDirectoryName(k3dName)!;
            foreach (var d in new[] { k3dName, k3d, Path.GetDirectoryName(k3d)! })
            {
                if (Directory.Exists(d) && !Directory.EnumerateFileSystemEntries(d).Any()) Directory.Delete(d);
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Could not remove the kept k3s token {file}: {ex.Message}");
            return false;
        }
    }

    /// <summary>Every readable token kept in an etcd cluster's directory, by k3d cluster name (ordinal order).</summary>
    public static IReadOnlyList<(string K3dName, string Token)> ReadAll(string etcdDirectory)
    {
        var root = Path.Combine(etcdDirectory, K3dDirectoryName);
        if (!Directory.Exists(root)) return [];
        var found = new List<(string, string)>();
        foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            try
            {
                if (Read(Path.Combine(dir, FileName)) is { } token) found.Add((Path.GetFileName(dir), token));
            }
            catch (K3dEtcdException) { } // an unreadable one is not offered (Get-K3dCluster -IncludeToken says why)
        }
        return found;
    }

    /// <summary>
    /// Removes the tokens kept for a plain (non-TLS) etcd cluster in the default place, with the
    /// directory when nothing else is in it. A TLS directory (it holds ca.pem) is left to
    /// ClusterTlsStore.Delete; files the module did not make stay (and keep their directories).
    /// </summary>
    public static IReadOnlyList<string> RemovePlainStore(string cluster, IOperationLog log)
    {
        var dir = ClusterTlsStore.ClusterDirectory(ClusterTlsStore.DefaultRoot(), cluster);
        var root = Path.Combine(dir, K3dDirectoryName);
        if (!Directory.Exists(root) || File.Exists(Path.Combine(dir, ClusterTlsStore.CaFileName))) return [];
        var removed = new List<string>();
        foreach (var k3dDir in Directory.EnumerateDirectories(root).ToList())
        {
            var file = Path.Combine(k3dDir, FileName);
            if (Remove(file, log)) removed.Add(file);
        }
        if (Directory.Exists(dir)) log.Warning($"{dir} was kept: it holds files K3dEtcd did not make.");
        return removed;
    }
}
