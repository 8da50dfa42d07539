using Docker.DotNet.Models;

namespace K3dEtcd.Docker;

// The runtime boundary: our container types to Docker.DotNet's and back, in one place.
public sealed partial class DockerAdapter
{
    private const string HostNetworkMode = "host";

    internal static CreateContainerParameters ToParameters(ContainerSpec spec) => new()
    {
        Name = spec.Name!,
        Hostname = spec.Hostname!,
        Image = spec.Image,
        Cmd = [.. spec.Command],
        Env = spec.Environment.Count > 0 ? [.. spec.Environment] : null!,
        Labels = new Dictionary<string, string>(spec.Labels),
        ExposedPorts = spec.ExposedPorts.Count > 0 ? spec.ExposedPorts.ToDictionary(p => $"{p}/tcp", _ => default(EmptyStruct)) : null,
        HostConfig = new HostConfig
        {
            NetworkMode = spec.Network,
            Binds = spec.Binds.Count > 0 ? [.. spec.Binds] : null!,
            PortBindings = spec.PublishedPorts.Count > 0
                ? spec.PublishedPorts.GroupBy(p => p.ContainerPort).ToDictionary(g => $"{g.Key}/tcp",
                    g => (IList<PortBinding>)g.Select(p => new PortBinding { HostIP = p.HostAddress, HostPort = p.HostPort }).ToList())
                : null!,
            BlkioDeviceWriteIOps = spec.DeviceWriteIops.Count > 0
                ? spec.DeviceWriteIops.Select(d => new ThrottleDevice { Path = d.Path, Rate = d.Rate }).ToList()
                : null!,
        },
    };

    internal static ContainerInfo ToInfo(ContainerListResponse c) => new()
    {
        Id = c.ID,
        Name = c.Names?.FirstOrDefault()?.TrimStart('/') ?? "",
        Image = c.Image,
        State = c.State,
        Labels = c.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(c.Labels),
        Ports = (c.Ports ?? []).Select(p => new PublishedPort(p.PrivatePort, p.IP, p.PublicPort ?? 0)).ToList(),
        Mounts = (c.Mounts ?? []).Select(m => new ContainerMount(string.IsNullOrEmpty(m.Name) ? null : m.Name, m.Destination)).ToList(),
    };

    internal static ContainerDetails ToDetails(ContainerInspectResponse c)
    {
        var config = c.Config ?? new ContainerConfig();
        var host = c.HostConfig ?? new HostConfig();
        var network = string.IsNullOrEmpty(host.NetworkMode) ? "default" : host.NetworkMode;
        return new ContainerDetails
        {
            Id = c.ID,
            Name = c.Name.TrimStart('/'),
            Running = c.State?.Running == true,
            ExitCode = c.State?.ExitCode ?? 0,
            StartedAt = DateTime.TryParse(c.State?.StartedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var started) ? started : null,
            NetworkAddresses = (c.NetworkSettings?.Networks?.Values ?? []).Select(n => n.IPAddress).Where(a => !string.IsNullOrEmpty(a)).ToList(),
            Spec = new ContainerSpec
            {
                Name = c.Name.TrimStart('/'),
                // On the host's network a container has the host's name; Docker refuses another one there.
                Hostname = network == HostNetworkMode ? null : config.Hostname,
                Image = config.Image,
                Command = [.. config.Cmd ?? []],
                Environment = [.. config.Env ?? []],
                Labels = config.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(config.Labels),
                Network = network,
                Binds = [.. host.Binds ?? []],
                ExposedPorts = (config.ExposedPorts?.Keys ?? []).Select(k => int.TryParse(k.Split('/')[0], out var port) ? port : 0).Where(p => p > 0).ToList(),
                PublishedPorts = (host.PortBindings ?? new Dictionary<string, IList<PortBinding>>())
                    .SelectMany(kv => (kv.Value ?? []).Select(b => new PortPublish(int.TryParse(kv.Key.Split('/')[0], out var port) ? port : 0, b.HostIP ?? "", b.HostPort ?? "")))
                    .Where(p => p.ContainerPort > 0).ToList(),
            },
        };
    }
}
