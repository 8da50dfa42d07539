namespace K3dEtcd.Docker;

// The runtime boundary's own types (in the spirit of k3d's pkg/runtimes): the engine says what a
// container is in these, and DockerAdapter alone translates them to and from Docker.DotNet's, so
// no file outside Docker/ names a Docker.DotNet type.

/// <summary>A client port published on the host: <c>-p HostAddress:HostPort:ContainerPort</c> (an empty host port lets Docker pick).</summary>
public sealed record PortPublish(int ContainerPort, string HostAddress, string HostPort);

/// <summary>An I/O limit on one block device: <c>--device-write-iops Path:Rate</c> (HostConfig.BlkioDeviceWriteIOps).</summary>
public sealed record DeviceRate(string Path, ulong Rate);

/// <summary>What to create a container from: its name, image, command, labels, network, mounts and published ports.</summary>
public sealed record ContainerSpec
{
    public string? Name { get; init; }
    public string? Hostname { get; init; }
    public required string Image { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public IReadOnlyList<string> Environment { get; init; } = [];
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    /// <summary>A network name, <c>host</c> or <c>none</c>.</summary>
    public required string Network { get; init; }
    /// <summary><c>volume:/path</c> or <c>/host/path:/path[:ro]</c>.</summary>
    public IReadOnlyList<string> Binds { get; init; } = [];
    /// <summary>Container ports (tcp) the image is told it listens on.</summary>
    public IReadOnlyList<int> ExposedPorts { get; init; } = [];
    public IReadOnlyList<PortPublish> PublishedPorts { get; init; } = [];
    /// <summary>Write IOPS limits (cgroup io/blkio throttling); empty for none.</summary>
    public IReadOnlyList<DeviceRate> DeviceWriteIops { get; init; } = [];
}

/// <summary>A container port published on the host, as docker ps shows it.</summary>
public sealed record PublishedPort(int ContainerPort, string? HostAddress, int HostPort);

/// <summary>A mount of a container: the volume name (null for a bind mount) and where it is mounted.</summary>
public sealed record ContainerMount(string? Volume, string Destination);

/// <summary>A container as docker ps lists it, with the engine (key) it was listed on.</summary>
public sealed record ContainerInfo
{
    public required string Id { get; init; }
    /// <summary>Its name, without Docker's leading slash.</summary>
    public required string Name { get; init; }
    public required string Image { get; init; }
    /// <summary>created, running, exited, ...</summary>
    public required string State { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<PublishedPort> Ports { get; init; } = [];
    public IReadOnlyList<ContainerMount> Mounts { get; init; } = [];

    public string? Label(string key) => Labels.TryGetValue(key, out var value) ? value : null;
}

/// <summary>A container as docker inspect shows it: its state, and the spec it was created with (to recreate it in place).</summary>
public sealed record ContainerDetails
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public bool Running { get; init; }
    public long ExitCode { get; init; }
    /// <summary>When the container last started (UTC), as the engine reports it.</summary>
    public DateTime? StartedAt { get; init; }
    /// <summary>Its IP addresses on its networks (none on the host network).</summary>
    public IReadOnlyList<string> NetworkAddresses { get; init; } = [];
    /// <summary>The spec that recreates this container as it is (same name, image, command, labels, network, mounts, ports).</summary>
    public required ContainerSpec Spec { get; init; }
}

/// <summary>A volume or network as the engine lists it, with its labels (empty when it has none).</summary>
public sealed record EngineObject(string Id, string Name, IReadOnlyDictionary<string, string> Labels)
{
    public EngineObject(string id, string name) : this(id, name, new Dictionary<string, string>()) { }
}
