using K3dEtcd.Common;

namespace K3dEtcd.Docker;

/// <summary>
/// The one place that wires the engine's Docker-side services for an engine connection: one
/// adapter, the cluster service on it, the member service on that. Services receive what they use
/// and never build one another; cmdlets and tests ask here.
/// </summary>
public static class EtcdServices
{
    public static EtcdClusterService Clusters(DockerConnection docker, IOperationLog log) => new(new DockerAdapter(docker, log), log);

    public static EtcdMemberService Members(DockerConnection docker, IOperationLog log) => new(Clusters(docker, log), log);

    public static EtcdFailoverService Failover(DockerConnection docker, IOperationLog log) => new(Members(docker, log), log);
}
