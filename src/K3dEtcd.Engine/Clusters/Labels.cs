
namespace K3dEtcd.Clusters;

/// <summary>
/// Labels on every container, volume and network the module creates. Docker is the source of
/// truth: Get-EtcdCluster rebuilds clusters from these, and removal touches only what carries them.
/// </summary>
internal static class Labels
{
    public const string Prefix = "io.k3detcd.";
    public const string Cluster = Prefix + "cluster";
    public const string Member = Prefix + "member";
    public const string MemberIndex = Prefix + "member-index";
    public const string MemberId = Prefix + "member-id";
    /// <summary>The -ClientPort a cluster was created with (member i publishes on it + i); absent when ports were chosen free.</summary>
    public const string ClientPortBase = Prefix + "client-port-base";
    public const string Network = Prefix + "network";
    public const string Token = Prefix + "cluster-token";
    public const string Version = Prefix + "etcd-version";
    public const string EnableV2 = Prefix + "enable-v2";
    public const string TlsDir = Prefix + "tls-dir";
    /// <summary>"true" when the member serves https to clients and peers.</summary>
    public const string Tls = Prefix + "tls";
    public const string Created = Prefix + "created";
    public const string ModuleVersion = Prefix + "module-version";
    /// <summary>Several engines: the engine that runs this member (its URL as given, without a trailing '/').</summary>
    public const string Engine = Prefix + "engine";
    /// <summary>Several engines: every engine of the cluster, comma-separated, so any one of them leads to the others.</summary>
    public const string Engines = Prefix + "engines";
    /// <summary>Several engines: every member's place, "name=engine|address|client port|peer port" joined by ';', so members on an engine that does not answer are still shown.</summary>
    public const string Placement = Prefix + "placement";

    /// <summary>
    /// On k3s server containers (New-K3dCluster's --runtime-label): the etcd cluster that is their
    /// datastore. K3d.K3dArguments writes it; Remove-EtcdCluster refuses a cluster it names.
    /// </summary>
    public const string UsedBy = Prefix + "etcd-cluster";
    /// <summary>k3d's own label on its node containers: the k3d cluster's name.</summary>
    public const string K3dCluster = "k3d.cluster";

    public static IDictionary<string, IDictionary<string, bool>> UsedByFilter(string cluster) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"{UsedBy}={cluster}"] = true },
        };

    public static IDictionary<string, IDictionary<string, bool>> ClusterFilter(string? cluster) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [cluster is null ? Cluster : $"{Cluster}={cluster}"] = true },
        };
}
