using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// The parameters New-EtcdCluster and Restore-EtcdSnapshot share (a restore makes a new cluster the
/// way New-EtcdCluster does), and the one place that turns them into an <see cref="EtcdClusterSpec"/>
/// and validates it, once per path, before anything asks for confirmation.
/// </summary>
public abstract class EtcdClusterSpecCmdlet : K3dEtcdCmdlet
{
    /// <summary>Number of members, 1 to 9 (default 3). An even size tolerates no more failures than one member less.</summary>
    [Parameter]
    [ValidateRange(1, EtcdClusterSpec.MaxSize)]
    public int Size { get; set; } = 3;

    /// <summary>etcd image to run (default the pinned official image, or K3DETCD_ETCD_IMAGE). The full /usr/local/bin/etcd command is passed, so official images and compatible ones work. Restore-EtcdSnapshot restores the snapshot with the image's own etcdctl (etcd 3.4) or etcdutl (3.5 and later).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = EtcdClusterSpec.DefaultImage();

    /// <summary>Docker network to put the members on. Default: a new bridge network k3detcd-NAME created and removed with the cluster. An existing network is joined and never removed.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Network { get; set; }

    /// <summary>Host address to publish each member's client port on (default 127.0.0.1). 0.0.0.0 exposes etcd to every host that can reach this machine and gives a warning.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string HostAddress { get; set; } = "127.0.0.1";

    /// <summary>First host port to publish client ports on; member i uses ClientPort+i. Default: free ports chosen at creation; either way a member keeps its port when it is stopped and started again.</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int ClientPort { get; set; }

    /// <summary>The etcd initial cluster token (default etcd-cluster). Member IDs derive from it and the peer URLs.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ClusterToken { get; set; } = EtcdClusterSpec.DefaultClusterToken;

    /// <summary>Enables etcd's v2 API (--enable-v2=true) so /v2/stats/leader is served. etcd 3.4 and 3.5 only; 3.6 removed it.</summary>
    [Parameter]
    public SwitchParameter EnableV2 { get; set; }

    /// <summary>More arguments passed to every etcd member, for example --heartbeat-interval=50.</summary>
    [Parameter]
    [Alias("ExtraArgs")]
    public string[] ExtraArgument { get; set; } = [];

    /// <summary>How long to wait for a healthy quorum with one leader (default 60).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>Missing (default) pulls a missing image with progress; Never makes a missing image an error. Default from K3DETCD_PULL_POLICY.</summary>
    [Parameter]
    public ImagePullPolicy PullPolicy { get; set; } = EtcdClusterSpec.DefaultPullPolicy();

    /// <summary>Serve clients and peers over https with a generated CA; clients must present a certificate (see the Tls property of the result).</summary>
    [Parameter]
    public SwitchParameter Tls { get; set; }

    /// <summary>Extra DNS names or IP addresses for every member's server certificate (with -Tls).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] TlsSan { get; set; } = [];

    /// <summary>How long the generated CA and certificates are valid, in days (with -Tls; default 365).</summary>
    [Parameter]
    [ValidateRange(1, K3dEtcd.Pki.CertificateAuthority.MaxValidityDays)]
    public int CertificateValidityDays { get; set; } = K3dEtcd.Pki.CertificateAuthority.DefaultValidityDays;

    /// <summary>etcd's backend quota in bytes (--quota-backend-bytes; etcd's default 2 GiB). Past it etcd raises NOSPACE and refuses writes until Optimize-EtcdCluster frees space.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long QuotaBackendBytes { get; set; }

    /// <summary>Compact the key history automatically (--auto-compaction-retention): a period such as 1h or 30m, or with -AutoCompactionMode revision a number of revisions to keep.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? AutoCompactionRetention { get; set; }

    /// <summary>periodic (default: -AutoCompactionRetention is a period) or revision (a number of revisions).</summary>
    [Parameter]
    [ValidateSet("periodic", "revision")]
    public string? AutoCompactionMode { get; set; }

    /// <summary>The spec these parameters describe for a cluster named <paramref name="name"/>; <paramref name="more"/> adds what only one cmdlet has.</summary>
    protected EtcdClusterSpec BuildSpec(string name, Func<EtcdClusterSpec, EtcdClusterSpec>? more = null)
    {
        var spec = new EtcdClusterSpec
        {
            Name = name,
            Size = Size,
            Image = Image,
            Network = Network,
            HostAddress = HostAddress,
            ClientPort = MyInvocation.BoundParameters.ContainsKey(nameof(ClientPort)) ? ClientPort : null,
            ClusterToken = ClusterToken,
            EnableV2 = EnableV2,
            ExtraArguments = ExtraArgument,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            PullPolicy = PullPolicy,
            Tls = Tls,
            TlsSans = TlsSan,
            CertificateValidityDays = CertificateValidityDays,
            QuotaBackendBytes = MyInvocation.BoundParameters.ContainsKey(nameof(QuotaBackendBytes)) ? QuotaBackendBytes : null,
            AutoCompactionRetention = AutoCompactionRetention,
            AutoCompactionMode = AutoCompactionMode,
        };
        return more is null ? spec : more(spec);
    }

    /// <summary>
    /// Validates the spec, once: the engine's rules (<see cref="EtcdClusterService.Check"/>) and those of
    /// parameters that only mean something together (-CertificateValidityDays needs -Tls).
    /// </summary>
    protected CheckedEtcdClusterSpec Check(EtcdClusterSpec spec)
    {
        var checkedSpec = EtcdClusterService.Check(spec);
        if (!Tls && MyInvocation.BoundParameters.ContainsKey(nameof(CertificateValidityDays)))
        {
            throw new K3dEtcdException(ErrorCatalog.CertificateValidityWithoutTls,
                "-CertificateValidityDays applies to the certificates of a TLS cluster; add -Tls.", CertificateValidityDays);
        }
        return checkedSpec;
    }

    /// <summary>"3 members, image X, TLS": the part of the confirmation text both cmdlets show.</summary>
    protected string Summary => $"{Size} members, image {Image}{(Tls ? ", TLS" : "")}";
}
