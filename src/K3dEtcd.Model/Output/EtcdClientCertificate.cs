namespace K3dEtcd.Model;

/// <summary>A client certificate issued from a cluster's CA: the paths k3s or etcdctl need (never key content).</summary>
public sealed class EtcdClientCertificate
{
    public string Cluster { get; init; } = "";
    public string CommonName { get; init; } = "";
    /// <summary>The certificate (PEM): --cert, --datastore-certfile.</summary>
    public string CertFile { get; init; } = "";
    /// <summary>The private key (PEM, owner-only): --key, --datastore-keyfile.</summary>
    public string KeyFile { get; init; } = "";
    /// <summary>The cluster's CA certificate (PEM): --cacert, --datastore-cafile.</summary>
    public string CaFile { get; init; } = "";
    public DateTime NotAfter { get; init; }

    public override string ToString() => CertFile;
}
