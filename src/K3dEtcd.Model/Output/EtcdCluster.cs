namespace K3dEtcd.Model;

/// <summary>State of an etcd cluster as seen from its member containers.</summary>
public enum EtcdClusterState
{
    /// <summary>Every member container is running.</summary>
    Running,
    /// <summary>Some member containers are running, others are not.</summary>
    Degraded,
    /// <summary>No member container is running.</summary>
    Stopped,
    /// <summary>No member container is left, but other parts are (volumes, network, TLS directory): see Leftovers.</summary>
    Broken,
}

/// <summary>An etcd cluster that runs as Docker containers, rebuilt from Docker labels.</summary>
public sealed class EtcdCluster
{
    public string Name { get; init; } = "";
    public int Size => Members.Length;
    public EtcdClusterState State { get; init; }
    /// <summary>Why the cluster is in its State, where that needs saying (Broken: what is left).</summary>
    public string? StateReason { get; init; }
    /// <summary>For a Broken cluster, the parts that are left (volumes, network, TLS directory); empty otherwise.</summary>
    public string[] Leftovers { get; init; } = [];
    public string Image { get; init; } = "";
    /// <summary>
    /// etcd's own version (for example 3.4.23), detected from the image; while members run different
    /// versions (an upgrade stopped half way) each of them, lowest first: "3.4.23, 3.5.16".
    /// </summary>
    public string? Version { get; init; }
    /// <summary>True while the members run different etcd versions (see each member's Version).</summary>
    public bool MixedVersions => Members.Select(m => m.Version).Where(v => v is not null).Distinct(StringComparer.Ordinal).Skip(1).Any();
    public string Network { get; init; } = "";
    public string ClusterToken { get; init; } = "";
    public EtcdClusterMember[] Members { get; init; } = [];
    /// <summary>Client URLs reachable from this host.</summary>
    public string[] Endpoints => Members.Where(m => m.ClientUrl is not null).Select(m => m.ClientUrl!).ToArray();
    /// <summary>Client URLs reachable from containers on the cluster network.</summary>
    public string[] NetworkEndpoints => Members.Select(m => m.NetworkClientUrl).ToArray();
    /// <summary>TLS material of the cluster; null for a plain-HTTP cluster.</summary>
    public EtcdTlsInfo? Tls { get; init; }
    public bool V2Enabled { get; init; }
    public DateTime? Created { get; init; }
    /// <summary>The Docker engines the members run on (New-EtcdCluster -DockerHost); empty for a cluster on the session's one engine.</summary>
    public string[] Engines { get; init; } = [];

    public override string ToString() => Name;
}

/// <summary>Paths of a cluster's TLS material (no key content is ever held here).</summary>
public sealed class EtcdTlsInfo
{
    public string Directory { get; init; } = "";
    public string CaFile { get; init; } = "";
    public string ClientCertFile { get; init; } = "";
    public string ClientKeyFile { get; init; } = "";
    public DateTime? NotAfter { get; init; }
    /// <summary>The earliest expiry of every certificate the module issued for the cluster (CA, members, clients).</summary>
    public DateTime? SoonestExpiry { get; init; }
}
