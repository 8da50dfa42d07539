namespace K3dEtcd.Model;

/// <summary>
/// An etcd snapshot file (the v3 backend database plus the SHA-256 etcd appends), as saved by
/// Save-EtcdSnapshot or read by Get-EtcdSnapshot. Revision, TotalKeys and Hash are the figures
/// `etcdctl snapshot status` (3.4) / `etcdutl snapshot status` (3.5+) print for the same file.
/// </summary>
public sealed class EtcdSnapshot
{
    /// <summary>Full path of the file.</summary>
    public string Path { get; init; } = "";
    /// <summary>Size of the file in bytes (the database plus the 32-byte SHA-256).</summary>
    public long Size { get; init; }
    /// <summary>The highest revision in the snapshot's key space.</summary>
    public long Revision { get; init; }
    /// <summary>Records in all of the database's buckets (etcdctl's "total keys"), not only user keys.</summary>
    public long TotalKeys { get; init; }
    /// <summary>etcd's snapshot-status hash (CRC-32C of buckets, keys and values), in hex as etcdctl -w table prints it.</summary>
    public string Hash { get; init; } = "";
    /// <summary>The SHA-256 etcd appended to the database (hex); verified against the content.</summary>
    public string Sha256 { get; init; } = "";
    /// <summary>Size of the database inside the snapshot (etcdctl's "total size").</summary>
    public long DatabaseSize { get; init; }
    /// <summary>The cluster it was saved from (null when only the file is known).</summary>
    public string? Cluster { get; init; }
    /// <summary>The etcd version of the member that served it (null when only the file is known).</summary>
    public string? EtcdVersion { get; init; }
    /// <summary>The client URL of the member that streamed the snapshot (null when only the file is known).</summary>
    public string? Endpoint { get; init; }
    /// <summary>When the snapshot was saved (the file's last write time when only the file is known), UTC.</summary>
    public DateTime Created { get; init; }

    /// <summary>The k3s bootstrap keys (/bootstrap/&lt;12 hex&gt;) the snapshot holds, read when it was saved (null when only the file is known).</summary>
    public string[]? BootstrapKeys { get; init; }
    /// <summary>The k3d clusters whose bootstrap data the snapshot holds: those whose kept k3s token hashes to one of BootstrapKeys (null when only the file is known).</summary>
    public string[]? K3dClusters { get; init; }

    /// <summary>A copy with the bootstrap keys and k3d clusters set.</summary>
    public EtcdSnapshot WithBootstrap(string[] keys, string[] k3dClusters) => new()
    {
        Path = Path, Size = Size, Revision = Revision, TotalKeys = TotalKeys, Hash = Hash, Sha256 = Sha256, DatabaseSize = DatabaseSize,
        Cluster = Cluster, EtcdVersion = EtcdVersion, Endpoint = Endpoint, Created = Created, BootstrapKeys = keys, K3dClusters = k3dClusters,
    };

    public override string ToString() => Path;
}
