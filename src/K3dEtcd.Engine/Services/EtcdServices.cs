using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.K3d;
using K3dEtcd.Members;
using K3dEtcd.Operations;

namespace K3dEtcd.Services;

/// <summary>
/// The one place that wires the engine's services that need a Docker engine: one adapter, the
/// cluster service on it, the member, failover, restore and k3d services on those (and the k3d
/// engine service over the k3d service). Services
/// receive what they use and never build one another; cmdlets, completers and tests ask here.
/// </summary>
public static class EtcdServices
{
    public static EtcdClusterService Clusters(DockerConnection docker, IOperationLog log) => new(new DockerAdapter(docker, log), log);

    public static EtcdMemberService Members(DockerConnection docker, IOperationLog log) => new(Clusters(docker, log), log);

    /// <summary>A member service whose waits (stopped, leader elected, caught up) take at most <paramref name="timeout"/>.</summary>
    public static EtcdMemberService Members(DockerConnection docker, IOperationLog log, TimeSpan timeout) => new(Clusters(docker, log), log) { Timeout = timeout };

    /// <summary>Rolling upgrades; each member's waits (caught up, leader moved) take at most <paramref name="timeout"/>.</summary>
    public static EtcdUpgradeService Upgrade(DockerConnection docker, IOperationLog log, TimeSpan timeout) => new(Members(docker, log, timeout), log);

    /// <summary>Get-/Update-EtcdCertificate; each member's waits (healthy, caught up) take at most <paramref name="timeout"/>.</summary>
    public static EtcdCertificateService Certificates(DockerConnection docker, IOperationLog log, TimeSpan timeout) => new(Members(docker, log, timeout), log);

    public static EtcdFailoverService Failover(DockerConnection docker, IOperationLog log) => new(Members(docker, log), log);

    public static EtcdDiskProbe Disk(DockerConnection docker, IOperationLog log) => new(Members(docker, log), log);

    public static EtcdRestoreService Restore(DockerConnection docker, IOperationLog log) => new(Clusters(docker, log), log);

    /// <summary>Test-EtcdSnapshot: the restore drill, on the restore service and the cluster service it uses.</summary>
    public static EtcdSnapshotDrillService SnapshotDrill(DockerConnection docker, IOperationLog log)
    {
        var clusters = Clusters(docker, log);
        return new(clusters, new EtcdRestoreService(clusters, log), log);
    }

    public static DatastoreProbe DatastoreProbe(DockerConnection docker, IOperationLog log) => new(new DockerAdapter(docker, log), log);

    /// <summary>
    /// The k3d service for one k3d binary. With an engine it also finds k3d's node containers by
    /// label (k3d v3.0-v3.3 have no JSON list) and, with <paramref name="withProbe"/>, probes the
    /// datastore from inside Docker; without one (-WhatIf with no k3d, completers) it only speaks to k3d.
    /// </summary>
    public static K3dClusterService K3d(K3dCli cli, K3dVersion version, DockerConnection? docker, bool withProbe, IOperationLog log) =>
        new(cli, version, docker is not null && withProbe ? DatastoreProbe(docker, log) : null, log)
        {
            NodeLookup = docker is null ? null : K3dNodeLookup.For(docker, log),
        };

    /// <summary>
    /// New-/Remove-K3dCluster's service: <paramref name="k3d"/> for k3d itself, and the cluster service on
    /// the engine <paramref name="docker"/> connects to, asked for only when a removal needs it.
    /// </summary>
    public static K3dEngineService K3dEngine(K3dClusterService k3d, Func<CancellationToken, Task<DockerConnection>> docker, IOperationLog log) =>
        new(k3d, async ct => Clusters(await docker(ct).ConfigureAwait(false), log), log);
}
