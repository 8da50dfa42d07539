using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

// Clusters whose members live on several Docker engines (New-EtcdCluster -DockerHost a, b, c):
// creating them with roll-back on every engine, and reading them back from any one engine.
public sealed partial class EtcdClusterService
{
    private const string HostNetwork = "host";

    private DockerEngineSet Engines => docker.Engines
        ?? throw new InvalidOperationException("A multi-engine cluster needs a service made from a DockerConnection.");

    private async Task<EtcdCluster> CreateOnEnginesAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(spec.Network))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement,
                "-Network does not apply with -DockerHost: members on several engines use each host's network and reach each other by address.", spec.Network);
        }
        if (spec.BeforeStart is not null)
        {
            // Seeding bind-mounts files of this machine into the volumes, which engines elsewhere cannot see.
            throw new K3dEtcdException(ErrorCatalog.RestoreNeedsLocalEngine, "A snapshot is restored into a cluster on the session's engine; restore it there, then add members elsewhere.", spec.Name);
        }
        var placements = EnginePlacement.Plan(spec);
        var engineKeys = placements.Select(p => p.Engine).Distinct(StringComparer.Ordinal).ToArray();
        var activity = $"Creating etcd cluster '{spec.Name}' on {engineKeys.Length} Docker engines";
        var progress = new ProgressSteps(log, activity, totalSteps: engineKeys.Length + (spec.Tls ? 1 : 0) + spec.Size * 2);

        // Every engine must answer and be free of the name before anything is created anywhere.
        var services = new Dictionary<string, EtcdClusterService>(StringComparer.Ordinal);
        var version = EtcdVersion.ParseImageTag(spec.Image);
        EnsureV2Supported(spec, version);
        foreach (var engine in engineKeys)
        {
            progress.Step($"Checking engine {engine}");
            var connection = await Engines.ConnectAsync(engine, ct).ConfigureAwait(false);
            var service = new EtcdClusterService(new DockerAdapter(connection, log), log);
            await service.EnsureNameIsFreeAsync(spec, ct).ConfigureAwait(false);
            await service.EnsureImageAsync(spec.Image, spec.PullPolicy, ct).ConfigureAwait(false);
            services[engine] = service;
        }
        version ??= await services[engineKeys[0]].DetectVersionAsync(spec.Image, ct).ConfigureAwait(false);
        EnsureV2Supported(spec, version);
        if (spec.Tls && (Directory.Exists(spec.TlsDirectory) || File.Exists(spec.TlsDirectory)))
        {
            throw ClusterTlsStore.TlsDirectoryExists(spec.TlsDirectory, spec.Name);
        }

        var created = engineKeys.ToDictionary(e => e, _ => new CreatedResources(), StringComparer.Ordinal);
        string? tlsDirectory = null;
        try
        {
            var containers = placements.Select(p => p.Container).ToArray();
            var addresses = placements.Select(p => p.Address).Distinct(StringComparer.Ordinal).ToArray();
            if (spec.Tls)
            {
                progress.Step("Creating the CA and certificates");
                // Peers connect from their host's address, and on one machine from loopback: etcd checks the peer certificate against it.
                ClusterTlsStore.Create(spec.TlsDirectory, spec.Name, containers, [.. ClusterTlsStore.ServerSans(spec.HostAddress, spec.TlsSans), .. addresses], spec.CertificateValidityDays, log,
                    peerSans: [.. addresses, "127.0.0.1"]);
                tlsDirectory = spec.TlsDirectory;
            }

            var initialCluster = string.Join(",", placements.Select(p => $"{p.Container}={p.PeerUrl(spec.Tls)}"));
            var createdAt = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);
            var placementLabel = string.Join(";", placements.Select(p => p.Serialize()));
            var ids = new string[placements.Count];
            foreach (var p in placements)
            {
                progress.Step($"Creating member {p.Container} on {p.Engine} ({p.Index + 1}/{spec.Size})");
                var memberId = EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute([p.PeerUrl(spec.Tls)], spec.ClusterToken));
                var labels = HostNetworkLabels(spec, p, memberId, version, createdAt, engineKeys, placementLabel);
                ids[p.Index] = await services[p.Engine].CreateHostNetworkMemberAsync(spec, p, initialCluster, "new", labels, created[p.Engine], ct).ConfigureAwait(false);
            }

            foreach (var p in placements)
            {
                progress.Step($"Starting member {p.Container} on {p.Engine} ({p.Index + 1}/{spec.Size})");
                log.Verbose($"docker -H {p.Engine} start {p.Container}");
                try
                {
                    await services[p.Engine].Docker.StartContainerAsync(ids[p.Index], ct).ConfigureAwait(false);
                }
                catch (DockerApiException ex)
                {
                    throw new K3dEtcdException(ErrorCatalog.MemberStartFailed, $"Member {p.Container} could not start on {p.Engine}: {DockerAdapter.DockerMessage(ex)}", p.Container, ex);
                }
            }

            var cluster = await GetOnEnginesAsync(spec.Name, engineKeys, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.ClusterVanished, $"The containers of cluster '{spec.Name}' disappeared while it was being created.", spec.Name);
            await new QuorumWait(docker, log).WaitAsync(cluster, spec.Timeout, activity, ct).ConfigureAwait(false);
            progress.Complete();
            return await GetOnEnginesAsync(spec.Name, engineKeys, ct).ConfigureAwait(false) ?? cluster;
        }
        catch (Exception ex)
        {
            progress.Complete();
            var failed = ex is K3dEtcdException { Target: string member } ? placements.FirstOrDefault(p => p.Container == member) : null;
            var detail = failed is not null && created[failed.Engine].Containers.Count > 0
                ? await services[failed.Engine].Docker.TailLogsAsync(failed.Container, 15).ConfigureAwait(false)
                : null;
            foreach (var (engine, resources) in created)
            {
                log.Verbose($"Rolling back cluster '{spec.Name}' on {engine}: {resources.Containers.Count} containers, {resources.Volumes.Count} volumes");
                await services[engine].RollbackAsync(resources).ConfigureAwait(false);
            }
            if (tlsDirectory is not null) await RollbackAsync(new CreatedResources { TlsDirectory = tlsDirectory }).ConfigureAwait(false);
            if (ex is K3dEtcdException kex && detail is { Length: > 0 })
            {
                throw new K3dEtcdException(kex, $"{kex.Message}{Environment.NewLine}Last log lines of {kex.Target}:{Environment.NewLine}{detail}");
            }
            if (ex is DockerApiException dex)
            {
                throw new K3dEtcdException(ErrorCatalog.DockerOperationFailed, $"Docker refused an operation while creating cluster '{spec.Name}': {DockerAdapter.DockerMessage(dex)}", spec.Name, dex);
            }
            throw;
        }
    }

    private static Dictionary<string, string> HostNetworkLabels(EtcdClusterSpec spec, MemberPlacement p, string memberId, string? version, string createdAt,
        IEnumerable<string> engines, string placementLabel)
    {
        var labels = MemberLabels(spec, p.Index, memberId, version, createdAt);
        labels[Labels.Network] = "";
        labels[Labels.Engine] = p.Engine;
        labels[Labels.Engines] = string.Join(",", engines);
        labels[Labels.Placement] = placementLabel;
        if (spec.Tls)
        {
            labels[Labels.TlsDir] = spec.TlsDirectory;
            labels[Labels.Tls] = "true";
        }
        return labels;
    }

    /// <summary>
    /// Where Add-EtcdMember puts member <paramref name="index"/> of a multi-engine cluster: on the next
    /// engine round-robin, at the address its members there use, on the next free port pair of that address.
    /// </summary>
    internal static MemberPlacement PlaceAddedMember(EtcdCluster cluster, int index)
    {
        var engine = cluster.Engines[index % cluster.Engines.Length];
        var address = cluster.Members.FirstOrDefault(m => m.Engine == engine && m.HostAddress is not null)?.HostAddress
            ?? EnginePlacement.AddressOf(new Uri(engine))
            ?? throw new K3dEtcdException(ErrorCatalog.EngineAddressRequired,
                $"Cluster '{cluster.Name}' has no member left on {engine} to show that engine's address, and its URL has none; the new member cannot be placed there.", engine);
        var used = cluster.Members.Where(m => m.HostAddress == address)
            .SelectMany(m => new[] { m.NetworkClientUrl, m.PeerUrl }).Select(u => new Uri(u).Port).DefaultIfEmpty(EnginePlacement.DefaultClientPort - 1).Max();
        return new MemberPlacement(index, EtcdClusterSpec.ContainerName(cluster.Name, index), engine, address, used + 1, used + 2);
    }

    /// <summary>Creates an added member (initial state "existing") on its engine; routed there so starting and roll-back reach it.</summary>
    internal async Task<string> CreateAddedMemberAsync(EtcdClusterSpec spec, EtcdCluster cluster, MemberPlacement p, string initialCluster,
        string memberId, string? version, string createdAt, CreatedResources created, CancellationToken ct)
    {
        var connection = await Engines.ConnectAsync(p.Engine, ct).ConfigureAwait(false);
        var service = new EtcdClusterService(new DockerAdapter(connection, log), log);
        var placements = cluster.Members.Where(m => m.Engine is not null && m.HostAddress is not null)
            .Select((m, i) => new MemberPlacement(i, m.Name, m.Engine!, m.HostAddress!, new Uri(m.NetworkClientUrl).Port, new Uri(m.PeerUrl).Port))
            .Append(p);
        var labels = HostNetworkLabels(spec, p, memberId, version, createdAt, cluster.Engines, string.Join(";", placements.Select(x => x.Serialize())));
        try
        {
            return await service.CreateHostNetworkMemberAsync(spec, p, initialCluster, "existing", labels, created, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var made in created.Containers.Append(p.Container).Concat(created.Volumes)) Engines.Route(made, connection);
        }
    }

    /// <summary>
    /// One member of a multi-engine cluster: its volume and a host-network container on this
    /// service's engine (not started), with its certificates copied in (docker cp), since the TLS
    /// directory is on this machine and the engine may not be.
    /// </summary>
    private async Task<string> CreateHostNetworkMemberAsync(EtcdClusterSpec spec, MemberPlacement placement, string initialCluster, string initialClusterState,
        Dictionary<string, string> labels, CreatedResources created, CancellationToken ct)
    {
        var volume = EtcdClusterSpec.VolumeName(spec.Name, placement.Index);
        log.Verbose($"docker -H {placement.Engine} volume create {volume}");
        await docker.CreateVolumeAsync(volume, new Dictionary<string, string> { [Labels.Cluster] = spec.Name, [Labels.Member] = placement.Container, [Labels.Engines] = labels[Labels.Engines] }, ct).ConfigureAwait(false);
        created.Volumes.Add(volume);

        var command = EtcdCommandLine.Build(placement.Container, initialCluster, initialClusterState, spec, placement);
        log.Verbose($"docker -H {placement.Engine} create --name {placement.Container} --network host -v {volume}:/var/lib/etcd {spec.Image} {string.Join(' ', command)}");
        var id = await docker.CreateContainerAsync(new CreateContainerParameters
        {
            Name = placement.Container,
            Image = spec.Image,
            Cmd = command,
            Labels = labels,
            HostConfig = new HostConfig { NetworkMode = HostNetwork, Binds = [$"{volume}:/var/lib/etcd"] },
        }, ct).ConfigureAwait(false);
        created.Containers.Add(id);

        if (spec.Tls)
        {
            var source = ClusterTlsStore.MemberDirectory(spec.TlsDirectory, placement.Container);
            var files = Directory.GetFiles(source).ToDictionary(
                f => $"{ClusterTlsStore.ContainerPkiDirectory}/{Path.GetFileName(f)}",
                f => (File.ReadAllBytes(f), f.EndsWith("-key.pem", StringComparison.Ordinal) ? UnixFileMode.UserRead | UnixFileMode.UserWrite : (UnixFileMode)0b110_100_100));
            log.Verbose($"docker -H {placement.Engine} cp {source}/. {placement.Container}:{ClusterTlsStore.ContainerPkiDirectory}");
            await docker.CopyFilesToContainerAsync(id, files, ct).ConfigureAwait(false);
        }
        return id;
    }

    /// <summary>
    /// The containers of the clusters found on the session's engine (and the engines listed with
    /// Set-K3dEtcdOption), completed with their members on the other engines their labels name.
    /// An engine that does not answer is returned with its reason, so its members are shown as
    /// unreachable rather than dropped. Every container found elsewhere is routed to its engine.
    /// </summary>
    private async Task<(List<ContainerListResponse> Containers, IReadOnlyDictionary<string, string> Unreachable)> AcrossEnginesAsync(
        IList<ContainerListResponse> local, string? cluster, CancellationToken ct, IEnumerable<string>? alsoEngines = null)
    {
        var unreachable = new Dictionary<string, string>(StringComparer.Ordinal);
        var all = new List<ContainerListResponse>(local);
        if (docker.Engines is not { } engines) return (all, unreachable);

        var visited = new HashSet<string>(StringComparer.Ordinal) { engines.SessionKey };
        var pending = new Queue<string>(engines.AdditionalHosts.Concat(alsoEngines ?? []).Distinct(StringComparer.Ordinal));
        void Follow(IEnumerable<ContainerListResponse> containers)
        {
            foreach (var e in containers.SelectMany(c => (ClusterModel.Label(c.Labels, Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)))
            {
                if (!visited.Contains(e) && !pending.Contains(e)) pending.Enqueue(e);
            }
        }
        Follow(local);
        while (pending.TryDequeue(out var engine))
        {
            if (!visited.Add(engine)) continue;
            var (connection, reason) = await engines.TryConnectAsync(engine, ct).ConfigureAwait(false);
            if (connection is null)
            {
                unreachable[engine] = reason!;
                log.Verbose($"Docker engine {engine} does not answer: {reason}");
                continue;
            }
            var found = await new DockerAdapter(connection, log).ListContainersAsync(Labels.ClusterFilter(cluster), ct).ConfigureAwait(false);
            foreach (var c in found)
            {
                engines.Route(c.ID, connection);
                foreach (var name in c.Names) engines.Route(name.TrimStart('/'), connection);
                foreach (var m in c.Mounts ?? []) if (m.Name is { Length: > 0 } volume) engines.Route(volume, connection);
            }
            all.AddRange(found);
            Follow(found);
        }
        return (all, unreachable);
    }

    /// <summary>A multi-engine cluster read from the engines it was just created on (the session's engine may hold none of its members).</summary>
    private async Task<EtcdCluster?> GetOnEnginesAsync(string name, IEnumerable<string> engineKeys, CancellationToken ct)
    {
        var local = await docker.ListContainersAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false);
        var (all, unreachable) = await AcrossEnginesAsync(local, name, ct, engineKeys).ConfigureAwait(false);
        var members = all.Where(c => c.Labels.ContainsKey(Labels.Member)).ToList();
        return members.Count == 0 ? null : ClusterModel.ToCluster(name, members, unreachable);
    }

    /// <summary>The services of every engine a multi-engine cluster's labels name (for removal), and those that do not answer.</summary>
    private async Task<(List<EtcdClusterService> Services, Dictionary<string, string> Unreachable)> EngineServicesAsync(IEnumerable<ContainerListResponse> containers, CancellationToken ct)
    {
        var services = new List<EtcdClusterService>();
        var unreachable = new Dictionary<string, string>(StringComparer.Ordinal);
        if (docker.Engines is not { } engines) return (services, unreachable);
        var keys = containers.SelectMany(c => (ClusterModel.Label(c.Labels, Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Where(e => e != engines.SessionKey).Distinct(StringComparer.Ordinal);
        foreach (var engine in keys)
        {
            var (connection, reason) = await engines.TryConnectAsync(engine, ct).ConfigureAwait(false);
            if (connection is null) unreachable[engine] = reason!;
            else services.Add(new EtcdClusterService(new DockerAdapter(connection, log), log));
        }
        return (services, unreachable);
    }
}
