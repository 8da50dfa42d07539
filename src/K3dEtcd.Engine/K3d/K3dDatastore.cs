using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>What kind of store a k3s datastore endpoint names.</summary>
public enum DatastoreKind { Etcd, Postgres, MySql, Nats }

/// <summary>
/// A k3s datastore as k3d will hand it to the server nodes: the endpoint, the Docker network the
/// servers must join to reach it, and TLS files (host paths) to mount.
/// </summary>
public sealed record DatastoreTarget
{
    /// <summary>Where TLS files are mounted in server nodes and probe containers (the same paths for both).</summary>
    public const string ContainerDirectory = "/etc/k3detcd/datastore";
    public const string ContainerCaFile = ContainerDirectory + "/ca.crt";
    public const string ContainerCertFile = ContainerDirectory + "/client.crt";
    public const string ContainerKeyFile = ContainerDirectory + "/client.key";

    public required string Endpoint { get; init; }
    public required DatastoreKind Kind { get; init; }
    public string? Network { get; init; }
    public string? CaFile { get; init; }
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>Set when the datastore is an etcd cluster made by K3dEtcd.</summary>
    public string? EtcdClusterName { get; init; }
    /// <summary>An image with /usr/local/bin/etcdctl for probes (the etcd cluster's own image).</summary>
    public string? ProbeImage { get; init; }

    public string[] EtcdEndpoints => Kind == DatastoreKind.Etcd ? Endpoint.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
    public bool HasTls => CaFile is not null || CertFile is not null || KeyFile is not null;
    public string Masked => K3dDatastore.Mask(Endpoint);

    /// <summary>The TLS files as (host path, in-container path) pairs.</summary>
    public IEnumerable<(string Host, string Container)> Mounts()
    {
        if (CaFile is not null) yield return (CaFile, ContainerCaFile);
        if (CertFile is not null) yield return (CertFile, ContainerCertFile);
        if (KeyFile is not null) yield return (KeyFile, ContainerKeyFile);
    }

    /// <summary>The K3S_DATASTORE_* variables k3s reads, with in-container paths.</summary>
    public IEnumerable<(string Key, string Value)> EnvironmentVariables()
    {
        yield return ("K3S_DATASTORE_ENDPOINT", Endpoint);
        if (CaFile is not null) yield return ("K3S_DATASTORE_CAFILE", ContainerCaFile);
        if (CertFile is not null) yield return ("K3S_DATASTORE_CERTFILE", ContainerCertFile);
        if (KeyFile is not null) yield return ("K3S_DATASTORE_KEYFILE", ContainerKeyFile);
    }
}

/// <summary>Validation and masking of k3s datastore strings (k3s's --datastore-endpoint, read by kine).</summary>
public static partial class K3dDatastore
{
    [GeneratedRegex(@"^mysql://(?:[^@/]*@)?(?:tcp|unix)\([^)]+\)/", RegexOptions.IgnoreCase)]
    private static partial Regex MySqlDsn();

    [GeneratedRegex(@"(?<head>://[^:/@\s]+:)[^\s]*@")]
    private static partial Regex UserPassword();

    public static DatastoreKind Validate(string endpoint)
    {
        var value = endpoint?.Trim() ?? "";
        if (value.Length == 0) throw Invalid(endpoint ?? "", "the datastore endpoint is empty.");
        if (!value.Contains("://", StringComparison.Ordinal))
        {
            if (value.Equals("etcd", StringComparison.OrdinalIgnoreCase))
            {
                throw Invalid(value, "'etcd' alone is not an endpoint: k3s would not find an etcd there and silently fall back to its embedded SQLite, so the cluster would not use your etcd at all. Give the members' URLs (http://etcd0:2379,http://etcd1:2379,...), or pass the EtcdCluster object (or its name) from New-EtcdCluster.");
            }
            throw Invalid(value, "a k3s datastore endpoint is a URL list (http(s)://host:2379,...), postgres://user:pass@host:5432/db or mysql://user:pass@tcp(host:3306)/db; a plain word is taken as an etcd cluster name, and none with this name exists.");
        }
        var scheme = value[..value.IndexOf("://", StringComparison.Ordinal)].ToLowerInvariant();
        switch (scheme)
        {
            case "http":
            case "https":
                foreach (var part in value.Split(','))
                {
                    var p = part.Trim();
                    if (!Uri.TryCreate(p, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || string.IsNullOrEmpty(uri.Host))
                    {
                        throw Invalid(value, $"'{Mask(p)}' is not an etcd client URL; an etcd endpoint is a comma-separated list of http(s)://host:port URLs.");
                    }
                    if (uri.AbsolutePath is not ("/" or ""))
                    {
                        throw Invalid(value, $"'{Mask(p)}' has a path; etcd client URLs are http(s)://host:port only.");
                    }
                }
                if (value.Split(',').Select(p => p.Trim().StartsWith("https", StringComparison.OrdinalIgnoreCase)).Distinct().Count() > 1)
                {
                    throw Invalid(value, "the list mixes http:// and https:// URLs; all members of one etcd cluster use the same scheme.");
                }
                return DatastoreKind.Etcd;
            case "postgres":
            case "postgresql":
                // Like Go's url.Parse (kine): the host follows the last '@', so a raw '@' in the password is fine.
                var rest = value[(value.IndexOf("://", StringComparison.Ordinal) + 3)..];
                var hostPart = rest[(rest.LastIndexOf('@') + 1)..].Split('/', '?')[0];
                if (hostPart.Length == 0 || hostPart.StartsWith(':') || hostPart.Any(char.IsWhiteSpace))
                {
                    throw Invalid(value, "a PostgreSQL datastore is postgres://user:pass@host:5432/database.");
                }
                return DatastoreKind.Postgres;
            case "mysql":
                if (!MySqlDsn().IsMatch(value))
                {
                    throw Invalid(value, "a MySQL datastore needs the address in Go's DSN form: mysql://user:pass@tcp(host:3306)/database. Without tcp(...) kine fails with \"default addr for network ... unknown\".");
                }
                return DatastoreKind.MySql;
            case "nats":
                return DatastoreKind.Nats;
            default:
                throw Invalid(value, $"'{scheme}://' is not a k3s external datastore; use http(s):// (etcd), postgres://, mysql:// or nats://.");
        }
    }

    /// <summary>The endpoint with any password replaced by ***, safe for every output stream.</summary>
    public static string Mask(string endpoint) => UserPassword().Replace(endpoint, m => m.Groups["head"].Value + "***@");

    private static K3dEtcdException Invalid(string value, string why) =>
        new(ErrorCatalog.InvalidDatastore, $"Invalid datastore '{Mask(value)}': {why}", Mask(value));
}
