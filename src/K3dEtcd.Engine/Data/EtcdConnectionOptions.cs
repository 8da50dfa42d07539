using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Data;

/// <summary>
/// How to reach an etcd cluster: client URLs plus optional TLS files and user/password auth.
/// Plain data with no PowerShell types, so services, tests and benchmarks build it directly.
/// </summary>
public sealed record EtcdConnectionOptions
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Client URLs, e.g. http://127.0.0.1:32768. Several give fail-over.</summary>
    public string[] Endpoints { get; init; } = [];
    /// <summary>PEM file of the CA that signed the members' server certificates.</summary>
    public string? CaFile { get; init; }
    /// <summary>PEM client certificate (with <see cref="KeyFile"/>) for clusters that require client auth.</summary>
    public string? CertFile { get; init; }
    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; init; }
    public string? Username { get; init; }
    /// <summary>Never logged and never shown by <see cref="ToString"/>.</summary>
    public string? Password { get; init; }
    /// <summary>Deadline of each etcd call (and of connecting).</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;
    /// <summary>The K3dEtcd cluster these endpoints belong to, when known: errors then name the command for that cluster (NOSPACE: Optimize-EtcdCluster -Cluster NAME).</summary>
    public string? ClusterName { get; init; }
    /// <summary>The number of members of <see cref="ClusterName"/>, when known (NOSPACE on one or two members names Optimize-EtcdCluster -Force).</summary>
    public int? ClusterSize { get; init; }

    public bool UsesTls => CaFile is not null || CertFile is not null
        || Endpoints.Any(e => e.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>A key that identifies equal options, so one pipeline reuses one connection.</summary>
    internal string CacheKey => string.Join('|', [string.Join(',', Endpoints), CaFile, CertFile, KeyFile, Username,
        Password is null ? "" : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Password))),
        Timeout.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture), ClusterName, ClusterSize?.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>
    /// Options for a K3dEtcd cluster: its host-reachable client URLs and, when the cluster has TLS,
    /// its CA and client certificate. Explicit files (non-null arguments) win over the cluster's.
    /// </summary>
    public static EtcdConnectionOptions FromCluster(EtcdCluster cluster, TimeSpan? timeout = null,
        string? caFile = null, string? certFile = null, string? keyFile = null, string? username = null, string? password = null)
    {
        var endpoints = cluster.Endpoints;
        if (endpoints.Length == 0)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterNotRunning,
                $"etcd cluster '{cluster.Name}' has no running member with a published client port; start its containers first.", cluster.Name);
        }
        return new EtcdConnectionOptions
        {
            Endpoints = endpoints,
            CaFile = caFile ?? NullIfEmpty(cluster.Tls?.CaFile),
            CertFile = certFile ?? NullIfEmpty(cluster.Tls?.ClientCertFile),
            KeyFile = keyFile ?? NullIfEmpty(cluster.Tls?.ClientKeyFile),
            Username = username,
            Password = password,
            Timeout = timeout ?? DefaultTimeout,
            ClusterName = cluster.Name,
            ClusterSize = cluster.Size,
        };
    }

    /// <summary>Options for one member only (used to ask each member about itself).</summary>
    public EtcdConnectionOptions ForEndpoint(string endpoint) => new()
    {
        Endpoints = [endpoint], CaFile = CaFile, CertFile = CertFile, KeyFile = KeyFile,
        Username = Username, Password = Password, Timeout = Timeout, ClusterName = ClusterName, ClusterSize = ClusterSize,
    };

    /// <summary>Checks what can be checked without the network; throws a K3dEtcdException with a stable id.</summary>
    public void Validate()
    {
        if (Endpoints.Length == 0)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdEndpointMissing, "No etcd endpoint was given.");
        }
        foreach (var endpoint in Endpoints)
        {
            if (!TryParseEndpoint(endpoint, out _))
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdEndpointInvalid,
                    $"'{endpoint}' is not an etcd client URL; expected http://host:port or https://host:port.", endpoint);
            }
        }
        if (Timeout <= TimeSpan.Zero)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdTimeoutInvalid, "The timeout must be positive.", Timeout);
        }
        if ((CertFile is null) != (KeyFile is null))
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClientCertificateIncomplete,
                "A client certificate needs both -CertFile and -KeyFile.", CertFile ?? KeyFile);
        }
        foreach (var file in new[] { CaFile, CertFile, KeyFile })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdTlsFileNotFound, $"TLS file '{file}' does not exist.", file);
            }
        }
        if ((Username is null) != (Password is null))
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdCredentialIncomplete, "etcd authentication needs a user name and a password.", Username);
        }
    }

    public static bool TryParseEndpoint(string? endpoint, out Uri uri)
    {
        uri = null!;
        if (string.IsNullOrWhiteSpace(endpoint)) return false;
        if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var parsed)) return false;
        if (parsed.Scheme is not ("http" or "https") || string.IsNullOrEmpty(parsed.Host) || parsed.IsDefaultPort && !endpoint.Contains(":" + parsed.Port, StringComparison.Ordinal)) return false;
        if (parsed.AbsolutePath is not ("/" or "") || !string.IsNullOrEmpty(parsed.Query) || !string.IsNullOrEmpty(parsed.UserInfo)) return false;
        uri = parsed;
        return true;
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    public override string ToString() => string.Join(',', Endpoints)
        + (UsesTls ? " (TLS" + (CertFile is null ? "" : ", client certificate") + ")" : "")
        + (Username is null ? "" : $" as {Username}");
}
