using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Pki;

/// <summary>
/// The TLS material of a cluster on disk, the only state the module keeps outside Docker:
/// <code>
/// &lt;data dir&gt;/k3detcd/clusters/&lt;name&gt;/
///   ca.pem ca-key.pem               the cluster's CA (the key never enters a container)
///   client.pem client-key.pem       the user's client certificate (Tls.ClientCertFile/ClientKeyFile)
///   members/&lt;container&gt;/           bind-mounted read-only at /etc/etcd/pki in that member only
///     ca.pem server.pem server-key.pem peer.pem peer-key.pem
/// </code>
/// </summary>
public static class ClusterTlsStore
{
    public const string CaFileName = "ca.pem";
    public const string CaKeyFileName = "ca-key.pem";
    public const string ClientCertFileName = "client.pem";
    public const string ClientKeyFileName = "client-key.pem";
    public const string ServerCertFileName = "server.pem";
    public const string ServerKeyFileName = "server-key.pem";
    public const string PeerCertFileName = "peer.pem";
    public const string PeerKeyFileName = "peer-key.pem";
    public const string MembersDirectoryName = "members";
    public const string DefaultClientCommonName = "k3detcd-client";
    /// <summary>The state of a CA rotation under way (Update-EtcdCertificate -Authority).</summary>
    public const string RotationFileName = "rotation.json";

    /// <summary>
    /// Refuses to issue from a cluster's CA while its rotation is incomplete: a certificate issued
    /// then (from the old CA, with a copy of the old CA only) would be refused once it ends.
    /// </summary>
    public static void EnsureNoRotation(string directory, string cluster)
    {
        if (!File.Exists(Path.Combine(directory, RotationFileName))) return;
        throw new K3dEtcdException(ErrorCatalog.CertificateRotationIncomplete,
            $"The CA rotation of cluster '{cluster}' is incomplete (its TLS directory holds {RotationFileName}): no certificate is issued until 'Update-EtcdCertificate -Cluster {cluster} -Authority' completes it.", cluster);
    }

    /// <summary>Where member material is mounted inside each etcd container.</summary>
    public const string ContainerPkiDirectory = "/etc/etcd/pki";

    /// <summary>$XDG_DATA_HOME or ~/.local/share on Unix, %LOCALAPPDATA% on Windows, + k3detcd/clusters.</summary>
    public static string DefaultRoot() => Root(Environment.GetEnvironmentVariable, OperatingSystem.IsWindows(),
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    internal static string Root(Func<string, string?> environment, bool windows, string home)
    {
        string dataHome;
        if (windows)
        {
            dataHome = environment("LOCALAPPDATA") is { Length: > 0 } local ? local : Path.Combine(home, "AppData", "Local");
        }
        else
        {
            // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
            dataHome = environment("XDG_DATA_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg) ? xdg : Path.Combine(home, ".local", "share");
        }
        return Path.Combine(dataHome, "k3detcd", "clusters");
    }

    public static string ClusterDirectory(string root, string cluster) => Path.Combine(root, cluster);

    public static string MemberDirectory(string clusterDirectory, string container) => Path.Combine(clusterDirectory, MembersDirectoryName, container);

    /// <summary>
    /// Makes the CA, the user's client certificate and every member's server and peer
    /// certificates. The directory must not exist yet: material from an earlier cluster of the
    /// same name is never silently reused or overwritten.
    /// </summary>
    /// <remarks>peerSans: 
    /// Extra names on the peer certificates: members on several hosts reach each other by address,
    /// and etcd checks a peer's certificate against the address it connects from.
    /// </remarks>
    public static EtcdTlsInfo Create(string directory, string cluster, IReadOnlyList<string> containers, IEnumerable<string> serverSans, int validityDays, IOperationLog log, IEnumerable<string>? peerSans = null)
    {
        if (Directory.Exists(directory) || File.Exists(directory))
        {
            throw TlsDirectoryExists(directory, cluster);
        }
        var extraSans = serverSans.ToArray();
        log.Verbose($"Creating TLS material for cluster '{cluster}' in {directory} (CA, client certificate, server and peer certificates for {containers.Count} members, ECDSA P-256, {validityDays} days)");
        PemFiles.CreatePrivateDirectory(directory);
        try
        {
            WriteAll(directory, cluster, containers, extraSans, peerSans?.ToArray() ?? [], validityDays);
        }
        catch
        {
            try { Directory.Delete(directory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Could not delete the half-written TLS directory {directory}: {ex.Message}"); }
            throw;
        }
        return Read(directory);
    }

    private static void WriteAll(string directory, string cluster, IReadOnlyList<string> containers, string[] extraSans, string[] peerSans, int validityDays)
    {
        using var ca = CertificateAuthority.Create($"K3dEtcd {cluster} CA", validityDays);
        PemFiles.WriteCertificate(Path.Combine(directory, CaFileName), ca.CertificatePem);
        PemFiles.WritePrivateKey(Path.Combine(directory, CaKeyFileName), ca.ExportPrivateKeyPem());

        var client = ca.Issue(DefaultClientCommonName, CertificateRole.Client, [], validityDays);
        PemFiles.WriteCertificate(Path.Combine(directory, ClientCertFileName), client.CertificatePem);
        PemFiles.WritePrivateKey(Path.Combine(directory, ClientKeyFileName), client.PrivateKeyPem);

        // Directory.CreateDirectory applies the mode to the leaf only, so each level is made on its own.
        PemFiles.CreatePrivateDirectory(Path.Combine(directory, MembersDirectoryName));
        foreach (var container in containers)
        {
            var memberDirectory = MemberDirectory(directory, container);
            PemFiles.CreatePrivateDirectory(memberDirectory);
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, CaFileName), ca.CertificatePem);
            var server = ca.Issue(container, CertificateRole.Server, [container, "localhost", "127.0.0.1", "::1", .. extraSans], validityDays);
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, ServerCertFileName), server.CertificatePem);
            PemFiles.WritePrivateKey(Path.Combine(memberDirectory, ServerKeyFileName), server.PrivateKeyPem);
            var peer = ca.Issue(container, CertificateRole.Peer, [container, .. peerSans], validityDays);
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, PeerCertFileName), peer.CertificatePem);
            PemFiles.WritePrivateKey(Path.Combine(memberDirectory, PeerKeyFileName), peer.PrivateKeyPem);
        }
    }

    /// <summary>
    /// Certificates for a member added later (Add-EtcdMember): the server certificate carries the
    /// same extra names as <paramref name="sourceContainer"/>'s (its -TlsSan and host address), with
    /// the new container's name instead of the source's; validity as long as the CA's.
    /// </summary>
    public static void AddMember(string directory, string sourceContainer, string container, IOperationLog log)
    {
        var caKey = Path.Combine(directory, CaKeyFileName);
        var sourceServer = Path.Combine(MemberDirectory(directory, sourceContainer), ServerCertFileName);
        if (!File.Exists(Path.Combine(directory, CaFileName)) || !File.Exists(caKey) || !File.Exists(sourceServer))
        {
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialMissing,
                $"The CA or the certificates of {sourceContainer} are missing from {directory}; no certificate can be issued for {container}.", directory);
        }
        var sans = new List<string>();
        using (var source = TlsClientFactory.LoadCertificate(sourceServer))
        {
            foreach (var ext in source.Extensions.OfType<X509SubjectAlternativeNameExtension>())
            {
                sans.AddRange(ext.EnumerateDnsNames().Select(n => n == sourceContainer ? container : n));
                sans.AddRange(ext.EnumerateIPAddresses().Select(ip => ip.ToString()));
            }
        }
        if (!sans.Contains(container)) sans.Insert(0, container);
        using var ca = CertificateAuthority.Load(Path.Combine(directory, CaFileName), caKey);
        var days = Math.Clamp((int)Math.Ceiling((ca.NotAfter - DateTime.UtcNow).TotalDays), 1, CertificateAuthority.MaxValidityDays);
        var memberDirectory = MemberDirectory(directory, container);
        if (Directory.Exists(memberDirectory)) throw TlsDirectoryExists(memberDirectory, container);
        log.Verbose($"Issuing server and peer certificates for {container} from the CA in {directory}");
        PemFiles.CreatePrivateDirectory(memberDirectory);
        try
        {
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, CaFileName), ca.CertificatePem);
            var server = ca.Issue(container, CertificateRole.Server, sans, days);
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, ServerCertFileName), server.CertificatePem);
            PemFiles.WritePrivateKey(Path.Combine(memberDirectory, ServerKeyFileName), server.PrivateKeyPem);
            var peer = ca.Issue(container, CertificateRole.Peer, PeerSans(directory, sourceContainer, container), days);
            PemFiles.WriteCertificate(Path.Combine(memberDirectory, PeerCertFileName), peer.CertificatePem);
            PemFiles.WritePrivateKey(Path.Combine(memberDirectory, PeerKeyFileName), peer.PrivateKeyPem);
        }
        catch
        {
            Directory.Delete(memberDirectory, recursive: true);
            throw;
        }
    }

    /// <summary>A new member's peer certificate names: the source member's (its addresses on several engines), with the new container's name.</summary>
    private static List<string> PeerSans(string directory, string sourceContainer, string container)
    {
        var sans = new List<string> { container };
        var sourcePeer = Path.Combine(MemberDirectory(directory, sourceContainer), PeerCertFileName);
        if (!File.Exists(sourcePeer)) return sans;
        using var source = TlsClientFactory.LoadCertificate(sourcePeer);
        foreach (var ext in source.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            sans.AddRange(ext.EnumerateIPAddresses().Select(ip => ip.ToString()));
        }
        return sans;
    }

    /// <summary>The SANs every server certificate carries beyond the container name and loopback names.</summary>
    public static IReadOnlyList<string> ServerSans(string hostAddress, IEnumerable<string> tlsSans)
    {
        var sans = new List<string>();
        // 0.0.0.0 and :: are not addresses a client connects to; members are then reached on loopback.
        if (IPAddress.TryParse(hostAddress, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)) sans.Add(ip.ToString());
        sans.AddRange(tlsSans.Select(s => s.Trim()));
        return sans;
    }

    /// <summary>Validates a -TlsSan entry: an IP address or a DNS name (a leading "*." wildcard allowed).</summary>
    public static void ValidateSan(string san)
    {
        var value = san?.Trim() ?? "";
        if (IPAddress.TryParse(value, out _)) return;
        var name = value.StartsWith("*.", StringComparison.Ordinal) ? value[2..] : value;
        var labels = name.Split('.');
        var ok = name.Length is > 0 and <= 253 && labels.All(l => l.Length is > 0 and <= 63
            && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') && l[0] != '-' && l[^1] != '-');
        if (!ok)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidTlsSan,
                $"'{san}' is not a valid subject alternative name: give an IP address or a DNS name such as etcd.example.test.", san);
        }
    }

    /// <summary>The paths and expiry of a cluster's material, as recorded in its label.</summary>
    public static EtcdTlsInfo Read(string directory)
    {
        var clientCert = Path.Combine(directory, ClientCertFileName);
        DateTime? notAfter = null;
        try
        {
            if (File.Exists(clientCert))
            {
                using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(clientCert));
                notAfter = cert.NotAfter.ToUniversalTime();
            }
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { }
        return new EtcdTlsInfo
        {
            Directory = directory,
            CaFile = Path.Combine(directory, CaFileName),
            ClientCertFile = clientCert,
            ClientKeyFile = Path.Combine(directory, ClientKeyFileName),
            NotAfter = notAfter,
            SoonestExpiry = Directory.Exists(directory) ? CertificateInventory.SoonestExpiry(directory) : null,
        };
    }

    /// <summary>Issues another client certificate from the cluster's CA into <paramref name="outputDirectory"/>.</summary>
    /// <remarks>record: whether to record the files in the TLS directory's issued.json (New-EtcdClientCertificate), so Get-/Update-EtcdCertificate find them.</remarks>
    public static EtcdClientCertificate IssueClient(EtcdTlsInfo tls, string cluster, string commonName, string outputDirectory, int validityDays, bool overwrite, IOperationLog log, bool record = false)
    {
        ValidateCommonName(commonName);
        EnsureNoRotation(tls.Directory, cluster);
        var caKey = Path.Combine(tls.Directory, CaKeyFileName);
        if (!File.Exists(tls.CaFile) || !File.Exists(caKey))
        {
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialMissing,
                $"The CA of cluster '{cluster}' is not in {tls.Directory} (was the directory deleted?); no client certificate can be issued.", tls.Directory);
        }
        var stem = commonName.Replace(':', '_');
        var result = new EtcdClientCertificate
        {
            Cluster = cluster,
            CommonName = commonName,
            CertFile = Path.GetFullPath(Path.Combine(outputDirectory, $"{stem}.pem")),
            KeyFile = Path.GetFullPath(Path.Combine(outputDirectory, $"{stem}-key.pem")),
            CaFile = Path.GetFullPath(Path.Combine(outputDirectory, CaFileName)),
        };
        var targets = new[] { result.CertFile, result.KeyFile, result.CaFile };
        if (!overwrite && targets.FirstOrDefault(File.Exists) is { } existing)
        {
            throw new K3dEtcdException(ErrorCatalog.ClientCertificateFileExists,
                $"{existing} already exists; use -Force to replace it or choose another -OutputDirectory.", existing);
        }

        CertificateAuthority ca;
        try
        {
            ca = CertificateAuthority.Load(tls.CaFile, caKey);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or IOException)
        {
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialInvalid,
                $"The CA of cluster '{cluster}' in {tls.Directory} could not be loaded: {ex.Message}", tls.Directory, ex);
        }
        using (ca)
        {
            var issued = ca.Issue(commonName, CertificateRole.Client, [], validityDays);
            log.Verbose($"Issuing client certificate CN={commonName} from the CA of cluster '{cluster}' into {outputDirectory} (valid until {issued.NotAfter:u})");
            Directory.CreateDirectory(outputDirectory);
            // A replaced key gets a new file (created 0600), never a rewrite of a file whose mode we did not choose.
            foreach (var target in targets.Where(File.Exists)) File.Delete(target);
            PemFiles.WriteCertificate(result.CaFile, ca.CertificatePem);
            PemFiles.WriteCertificate(result.CertFile, issued.CertificatePem);
            PemFiles.WritePrivateKey(result.KeyFile, issued.PrivateKeyPem);
            if (record) CertificateInventory.Record(tls.Directory, new IssuedRecord(commonName, result.CertFile, result.KeyFile, result.CaFile));
            return new EtcdClientCertificate
            {
                Cluster = result.Cluster,
                CommonName = result.CommonName,
                CertFile = result.CertFile,
                KeyFile = result.KeyFile,
                CaFile = result.CaFile,
                NotAfter = issued.NotAfter,
            };
        }
    }

    public static void ValidateCommonName(string commonName)
    {
        if (string.IsNullOrEmpty(commonName) || commonName.Length > 64
            || !char.IsAsciiLetterOrDigit(commonName[0])
            || !commonName.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '@'))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidCommonName,
                $"'{commonName}' is not a usable common name: use 1 to 64 letters, digits, '.', '_', '-', ':' or '@', starting with a letter or digit (it also names the files).", commonName);
        }
    }

    /// <summary>
    /// Deletes a cluster's material. The path comes from a container label, so only a directory
    /// shaped like ours (.../clusters/&lt;cluster&gt; holding ca.pem) is deleted.
    /// </summary>
    public static bool Delete(string directory, string cluster, IOperationLog log)
    {
        if (!Directory.Exists(directory)) return false;
        var full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        if (!LooksLikeClusterDirectory(full, cluster))
        {
            log.Warning($"The TLS directory label of cluster '{cluster}' points at {directory}, which does not look like K3dEtcd's TLS material; it was not deleted.");
            return false;
        }
        log.Verbose($"Deleting TLS material {full}");
        Directory.Delete(full, recursive: true);
        return true;
    }

    /// <summary>
    /// A directory shaped like ours: .../clusters/&lt;cluster&gt; holding ca.pem, or still empty (a
    /// create killed right after making it). Paths come from labels, so nothing else is ever deleted.
    /// </summary>
    public static bool LooksLikeClusterDirectory(string directory, string cluster)
    {
        if (!Directory.Exists(directory)) return false;
        var full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        if (Path.GetFileName(full) != cluster || Path.GetFileName(Path.GetDirectoryName(full)) != "clusters") return false;
        return File.Exists(Path.Combine(full, CaFileName)) || !Directory.EnumerateFileSystemEntries(full).Any();
    }

    internal static K3dEtcdException TlsDirectoryExists(string directory, string cluster) =>
        new(ErrorCatalog.TlsDirectoryExists,
            $"TLS material for a cluster named '{cluster}' already exists in {directory} (left by a cluster removed with -KeepData?). Nothing reuses it silently: delete that directory, or choose another cluster name.", directory);
}
