using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>Everything New-EtcdCluster needs to create a cluster.</summary>
public sealed record EtcdClusterSpec
{
    /// <summary>The pinned default image; see README for why 3.5.</summary>
    public const string PinnedDefaultImage = "gcr.io/etcd-development/etcd:v3.5.21";
    public const string ImageEnvironmentVariable = "K3DETCD_ETCD_IMAGE";
    public const string PullPolicyEnvironmentVariable = "K3DETCD_PULL_POLICY";
    public const string DefaultClusterToken = "etcd-cluster";
    public const int MaxSize = 9;

    public string Name { get; init; } = "etcd";
    public int Size { get; init; } = 3;
    public string Image { get; init; } = DefaultImage();
    public string? Network { get; init; }
    public string HostAddress { get; init; } = "127.0.0.1";
    public int? ClientPort { get; init; }
    public string ClusterToken { get; init; } = DefaultClusterToken;
    public bool EnableV2 { get; init; }
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
    /// <summary>etcd's --quota-backend-bytes (null: etcd's default of 2 GiB).</summary>
    public long? QuotaBackendBytes { get; init; }
    /// <summary>etcd's --auto-compaction-retention, for example 1h or (revision mode) 1000; null: off.</summary>
    public string? AutoCompactionRetention { get; init; }
    /// <summary>etcd's --auto-compaction-mode: periodic or revision (null: etcd's default, periodic).</summary>
    public string? AutoCompactionMode { get; init; }
    /// <summary>
    /// Runs after every member's volume and container exist and before any starts (Restore-EtcdSnapshot
    /// fills the volumes here); a failure rolls back the whole cluster like any other.
    /// </summary>
    public Func<EtcdClusterSeed, CancellationToken, Task>? BeforeStart { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    public ImagePullPolicy PullPolicy { get; init; } = DefaultPullPolicy();
    /// <summary>https for clients and peers, with a generated CA and client-certificate authentication.</summary>
    public bool Tls { get; init; }
    /// <summary>Extra names and addresses on every member's server certificate.</summary>
    public IReadOnlyList<string> TlsSans { get; init; } = [];
    public int CertificateValidityDays { get; init; } = Pki.CertificateAuthority.DefaultValidityDays;
    /// <summary>Where clusters' TLS directories are made; null means the per-user data directory.</summary>
    public string? TlsRoot { get; init; }

    /// <summary>
    /// The Docker engines to place members on (round-robin), each member with host networking on
    /// its engine host's address; empty: every member on the session's engine, on a bridge network.
    /// </summary>
    public IReadOnlyList<string> DockerHosts { get; init; } = [];
    /// <summary>The address of each -DockerHost entry's host, in order; where missing, taken from the engine URL.</summary>
    public IReadOnlyList<string> AdvertiseAddresses { get; init; } = [];

    /// <summary>The members' indexes (container NAME+index); null: 0 to Size-1. A cluster rebuilt in place keeps the indexes it had.</summary>
    public IReadOnlyList<int>? MemberIndexes { get; init; }
    /// <summary>Host client ports by member index, kept when a cluster is rebuilt in place; others follow -ClientPort or are chosen free.</summary>
    public IReadOnlyDictionary<int, int>? HostPorts { get; init; }
    /// <summary>Appended to every new data volume's name: a rebuild in place keeps the old volumes until the new members are healthy.</summary>
    public string VolumeSuffix { get; init; } = "";
    /// <summary>
    /// Rebuild in place (Restore-EtcdSnapshot -Replace): the cluster's leftovers are its own, its
    /// network and TLS directory are used as they are, and only containers and volumes are made.
    /// </summary>
    public bool InPlace { get; init; }

    public IReadOnlyList<int> Indexes => MemberIndexes ?? [.. Enumerable.Range(0, Size)];

    public string NetworkName => string.IsNullOrEmpty(Network) ? $"k3detcd-{Name}" : Network!;

    public static string DefaultImage() =>
        Environment.GetEnvironmentVariable(ImageEnvironmentVariable) is { Length: > 0 } image ? image : PinnedDefaultImage;

    public static ImagePullPolicy DefaultPullPolicy() =>
        Enum.TryParse<ImagePullPolicy>(Environment.GetEnvironmentVariable(PullPolicyEnvironmentVariable), ignoreCase: true, out var p) ? p : ImagePullPolicy.Missing;

    public static string ContainerName(string cluster, int index) => $"{cluster}{index}";
    public static string VolumeName(string cluster, int index) => $"{cluster}{index}-data";
    public static string Scheme(bool tls) => tls ? "https" : "http";
    public static string PeerUrl(string container, bool tls = false) => $"{Scheme(tls)}://{container}:2380";
    public static string NetworkClientUrl(string container, bool tls = false) => $"{Scheme(tls)}://{container}:2379";
    public string TlsDirectory => Pki.ClusterTlsStore.ClusterDirectory(TlsRoot ?? Pki.ClusterTlsStore.DefaultRoot(), Name);
}
