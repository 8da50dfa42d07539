using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Creates an etcd cluster of Docker containers and waits for a healthy quorum.</para>
/// <para type="description">Creates a user-defined Docker network, one labelled data volume and one container per member
/// (named after the cluster: etcd0, etcd1, ...), publishes each member's client port 2379 on the host address, and waits
/// until every member is healthy and all agree on one leader. Anything that fails, times out or is cancelled (Ctrl+C)
/// rolls back everything this call created, and the error shows the failing member's log.</para>
/// <para type="description">The image defaults to a pinned official etcd 3.5 image, or to the K3DETCD_ETCD_IMAGE
/// environment variable. A missing image is pulled unless -PullPolicy Never (or K3DETCD_PULL_POLICY=Never).</para>
/// </summary>
/// <example>
/// <code>$c = New-EtcdCluster</code>
/// <para>Creates the default cluster "etcd" with three members etcd0, etcd1 and etcd2 and keeps the object in $c.</para>
/// </example>
/// <example>
/// <code>New-EtcdCluster demo -Size 5 -Image gcr.io/etcd-development/etcd:v3.6.4</code>
/// <para>Creates a five-member cluster from an etcd 3.6 image.</para>
/// </example>
/// <example>
/// <code>$c = New-EtcdCluster secure -Tls -TlsSan etcd.example.test, 192.0.2.10; $c.Tls</code>
/// <para>Creates a TLS cluster: a generated CA, https client and peer URLs, client-certificate authentication. $c.Tls names
/// the CA, the client certificate and its key (under the per-user data directory); data cmdlets given $c use them by themselves.</para>
/// </example>
/// <example>
/// <code>New-EtcdCluster small -QuotaBackendBytes 64MB -AutoCompactionRetention 1h</code>
/// <para>A cluster whose database may grow to 64 MiB (then etcd raises NOSPACE; see Optimize-EtcdCluster) and that compacts history older than an hour by itself.</para>
/// </example>
/// <example>
/// <code>New-EtcdCluster single -Size 1 -ClientPort 2379 -EnableV2</code>
/// <para>Creates a one-member cluster on the fixed host port 2379 with the v2 API enabled (etcd 3.4 and 3.5 only).</para>
/// </example>
/// <example>
/// <code>New-EtcdCluster prod -Size 3 -DockerHost unix:///var/run/docker.sock, tcp://10.0.0.12:2376, tcp://10.0.0.13:2376 -AdvertiseAddress 10.0.0.11 -Tls</code>
/// <para>Places one member on each of three Docker engines (hosts). Each member uses its host's network and listens on
/// 2379 (clients) and 2380 (peers) of its host's address: 10.0.0.11 for the local socket (given), the address in the URL
/// for the tcp:// engines (TLS to them with ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH or Set-K3dEtcdOption -DockerCertPath).
/// Get-EtcdCluster prod finds the whole cluster from any of the three engines.</para>
/// </example>
/// <example>
/// <code>New-EtcdCluster lab -Size 3 -DockerHost unix:///run/a.sock, unix:///run/b.sock -AdvertiseAddress 127.0.0.11, 127.0.0.12</code>
/// <para>Two engines on this machine, three members round-robin: lab0 and lab2 share 127.0.0.11 with ports 2379/2380 and 2381/2382.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "EtcdCluster", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdCluster))]
public sealed class NewEtcdClusterCommand : K3dEtcdCmdlet
{
    /// <summary>Name of the cluster (default "etcd"). Members are named after it with their index: etcd0, etcd1, ... It must follow Docker's container name rules.</summary>
    [Parameter(Position = 0)]
    public string Name { get; set; } = "etcd";

    /// <summary>Number of members, 1 to 9 (default 3). An even size tolerates no more failures than one member less.</summary>
    [Parameter]
    [ValidateRange(1, EtcdClusterSpec.MaxSize)]
    public int Size { get; set; } = 3;

    /// <summary>etcd image to run (default the pinned official image, or K3DETCD_ETCD_IMAGE). The full /usr/local/bin/etcd command is passed, so official images and compatible ones work.</summary>
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

    /// <summary>
    /// Docker engines to place the members on: one member each, or round-robin when there are fewer engines than members
    /// (unix://, npipe:// or tcp:// with TLS in the docker CLI's layout). Members then use host networking and listen on
    /// their engine host's address (see -AdvertiseAddress); -ClientPort sets the first client port (default 2379, peer = client + 1).
    /// Without it every member runs on the session's engine on a bridge network.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(DockerHostCompleter))]
    public string[] DockerHost { get; set; } = [];

    /// <summary>
    /// The address of each -DockerHost entry's host, in the same order: the members listen on it and advertise it to peers
    /// and clients, and TLS certificates carry it. Where missing it is the IP (or resolved name) in a tcp:// URL, or for a
    /// local socket this machine's address on the way to the other engines.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] AdvertiseAddress { get; set; } = [];

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var spec = new EtcdClusterSpec
        {
            Name = Name,
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
            DockerHosts = DockerHost,
            AdvertiseAddresses = AdvertiseAddress,
        };
        try
        {
            EtcdClusterService.ValidateSpec(spec);
            if (!Tls && MyInvocation.BoundParameters.ContainsKey(nameof(CertificateValidityDays)))
            {
                throw new K3dEtcdException(ErrorCatalog.CertificateValidityWithoutTls,
                    "-CertificateValidityDays applies to the certificates of a TLS cluster; add -Tls.", CertificateValidityDays);
            }
            if (DockerHost.Length == 0 && AdvertiseAddress.Length > 0)
            {
                throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement, "-AdvertiseAddress gives the address of each -DockerHost engine; add -DockerHost.", AdvertiseAddress[0]);
            }
            var placement = DockerHost.Length == 0 ? "" : $", on {string.Join(", ", EnginePlacement.Plan(spec).Select(p => $"{p.Container}@{p.Engine} {p.Address}:{p.ClientPort}"))}";
            if (!ShouldProcess($"etcd cluster '{Name}' ({Size} members, image {Image}{(Tls ? ", TLS" : "")}{placement})", "Create")) return;
            var service = await GetClusterServiceAsync(ct);
            WriteObject(await service.CreateAsync(spec, ct));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
