namespace K3dEtcd.Model;

/// <summary>One etcd member of a cluster: its container and its two addresses.</summary>
public sealed class EtcdClusterMember
{
    public string ClusterName { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>Member ID as etcd prints it (lower-case hex, no padding).</summary>
    public string Id { get; init; } = "";
    public string ContainerName { get; init; } = "";
    public string ContainerId { get; init; } = "";
    /// <summary>Client URL published on the host, e.g. http://127.0.0.1:32768; null when the container is not running.</summary>
    public string? ClientUrl { get; init; }
    /// <summary>Client URL on the cluster's Docker network, e.g. http://etcd0:2379.</summary>
    public string NetworkClientUrl { get; init; } = "";
    public string PeerUrl { get; init; } = "";
    /// <summary>Docker's container state: running, exited, created, ...</summary>
    public string State { get; init; } = "";
    public string Volume { get; init; } = "";
    /// <summary>The image the member's container runs.</summary>
    public string Image { get; init; } = "";
    /// <summary>The etcd version the member's container runs (its label); differs between members while an upgrade is half way.</summary>
    public string? Version { get; init; }
    /// <summary>
    /// The Docker engine that runs the member, for a cluster placed on several engines
    /// (New-EtcdCluster -DockerHost); null for a cluster on the session's one engine.
    /// </summary>
    public string? Engine { get; init; }
    /// <summary>The address of the member's engine host that it listens on and advertises (several engines only).</summary>
    public string? HostAddress { get; init; }
    /// <summary>Why the member's state is not known, e.g. its engine does not answer (State is then "unreachable").</summary>
    public string? StateReason { get; init; }

    public override string ToString() => Name;
}
