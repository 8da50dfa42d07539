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
public sealed class NewEtcdClusterCommand : EtcdClusterSpecCmdlet
{
    /// <summary>Name of the cluster (default "etcd"). Members are named after it with their index: etcd0, etcd1, ... It must follow Docker's container name rules.</summary>
    [Parameter(Position = 0)]
    public string Name { get; set; } = "etcd";

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
        try
        {
            var spec = Check(BuildSpec(Name, s => s with { DockerHosts = DockerHost, AdvertiseAddresses = AdvertiseAddress }));
            if (DockerHost.Length == 0 && AdvertiseAddress.Length > 0)
            {
                throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement, "-AdvertiseAddress gives the address of each -DockerHost engine; add -DockerHost.", AdvertiseAddress[0]);
            }
            var placement = DockerHost.Length == 0 ? "" : $", on {string.Join(", ", EnginePlacement.Plan(spec.Spec).Select(p => $"{p.Container}@{p.Engine} {p.Address}:{p.ClientPort}"))}";
            if (!ShouldProcess($"etcd cluster '{Name}' ({Summary}{placement})", "Create")) return;
            var service = await GetClusterServiceAsync(ct);
            WriteObject(await service.CreateAsync(spec, ct));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
