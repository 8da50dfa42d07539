// Long because: creating a cluster is one transaction (checks, network, volumes, members, seeding, start, quorum) whose steps share one record of what was created, for the roll-back.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>
/// Creates (with roll-back), finds and removes etcd clusters made of labelled Docker containers.
/// The Docker calls themselves are <see cref="DockerAdapter"/>'s; waiting for quorum is
/// <see cref="QuorumWait"/>'s; reading labels back into the model is <see cref="ClusterModel"/>'s.
/// </summary>
public sealed partial class EtcdClusterService(DockerAdapter docker, IOperationLog log)
{
    public EtcdClusterService(DockerConnection docker, IOperationLog log) : this(new DockerAdapter(docker, log), log) { }

    public EtcdClusterService(IDockerClient docker, IOperationLog log) : this(new DockerAdapter(docker, log), log) { }

    /// <summary>The Docker adapter this service works through (members reuse it).</summary>
    public DockerAdapter Docker => docker;

    /// <summary>
    /// Choose each member's host port at creation and fix it in the port binding, so a member keeps
    /// its client URL when it is stopped and started again (with an empty host port Docker picks a
    /// new random one on every start). Only where the engine is on this machine, because the free
    /// ports are found here.
    /// </summary>
    internal bool PinHostPorts { get; init; } = docker.EngineIsLocal;

    private const string ClientPortKey = "2379/tcp";

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex ValidName();

    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || !ValidName().IsMatch(name))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidClusterName,
                $"'{name}' is not a valid cluster name: use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit (Docker's container name rules).", name);
        }
    }

    public static void ValidateSpec(EtcdClusterSpec spec)
    {
        ValidateName(spec.Name);
        if (spec.Size is < 1 or > EtcdClusterSpec.MaxSize)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidClusterSize,
                $"Size {spec.Size} is out of range: an etcd cluster here has 1 to {EtcdClusterSpec.MaxSize} members.", spec.Size);
        }
        if (!IPAddress.TryParse(spec.HostAddress, out _))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidHostAddress,
                $"'{spec.HostAddress}' is not an IP address to publish client ports on (for example 127.0.0.1).", spec.HostAddress);
        }
        if (spec.ClientPort is { } port && (port < 1 || port + spec.Size - 1 > 65535))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidClientPort,
                $"Client ports {port}..{port + spec.Size - 1} are not all valid TCP ports.", port);
        }
        if (spec.Timeout <= TimeSpan.Zero)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidTimeout, "The timeout must be positive.", spec.Timeout);
        }
        if (!spec.Tls && spec.TlsSans.Count > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.TlsSanWithoutTls,
                "-TlsSan names go on TLS server certificates; add -Tls to make a TLS cluster.", spec.TlsSans[0]);
        }
        foreach (var san in spec.TlsSans) ClusterTlsStore.ValidateSan(san);
        EtcdClusterSeed.ValidateQuotaAndCompaction(spec);
        if (spec.CertificateValidityDays is < 1 or > CertificateAuthority.MaxValidityDays)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidCertificateValidity,
                $"Certificate validity {spec.CertificateValidityDays} days is out of range: use 1 to {CertificateAuthority.MaxValidityDays} days.", spec.CertificateValidityDays);
        }
    }

    // ---------------------------------------------------------------- create

    public Task<EtcdCluster> CreateAsync(EtcdClusterSpec spec, CancellationToken ct) => CreateAsync(Check(spec), ct);

    private async Task<EtcdCluster> CreateCheckedAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        if (spec.DockerHosts.Count > 0) return await CreateOnEnginesAsync(spec, ct).ConfigureAwait(false);
        if (spec.Size % 2 == 0)
        {
            log.Warning($"A cluster of {spec.Size} members tolerates no more failures than one of {spec.Size - 1}; an odd size is usually better.");
        }
        if (spec.HostAddress is "0.0.0.0" or "::")
        {
            log.Warning($"Client ports will be published on {spec.HostAddress}: every host that can reach this machine can reach etcd.");
        }

        var activity = $"Creating etcd cluster '{spec.Name}'";
        var progress = new ProgressSteps(log, activity, totalSteps: (spec.Tls ? 4 : 3) + spec.Size * 2);

        // A version readable from the tag is checked before anything touches Docker.
        var version = EtcdVersion.ParseImageTag(spec.Image);
        EnsureV2Supported(spec, version);
        await EnsureNameIsFreeAsync(spec, ct).ConfigureAwait(false);
        log.Phase("names checked (containers, volumes)");
        if (spec.Tls && (Directory.Exists(spec.TlsDirectory) || File.Exists(spec.TlsDirectory)))
        {
            throw ClusterTlsStore.TlsDirectoryExists(spec.TlsDirectory, spec.Name);
        }
        progress.Step("Checking the image");
        await EnsureImageAsync(spec.Image, spec.PullPolicy, ct).ConfigureAwait(false);
        version ??= await DetectVersionAsync(spec.Image, ct).ConfigureAwait(false);
        EnsureV2Supported(spec, version);
        log.Phase($"image checked (etcd {version ?? "version unknown"})");

        var created = new CreatedResources();
        try
        {
            var containers = Enumerable.Range(0, spec.Size).Select(i => EtcdClusterSpec.ContainerName(spec.Name, i)).ToArray();
            if (spec.Tls)
            {
                progress.Step("Creating the CA and certificates");
                // Create removes what it wrote if it fails; from here on the roll-back owns the directory.
                ClusterTlsStore.Create(spec.TlsDirectory, spec.Name, containers, ClusterTlsStore.ServerSans(spec.HostAddress, spec.TlsSans), spec.CertificateValidityDays, log);
                created.TlsDirectory = spec.TlsDirectory;
                log.Phase("TLS material written");
            }

            progress.Step($"Creating network {spec.NetworkName}");
            await EnsureNetworkAsync(spec, created, ct).ConfigureAwait(false);
            log.Phase("network ready");

            var peerUrls = containers.Select(c => EtcdClusterSpec.PeerUrl(c, spec.Tls)).ToArray();
            var initialCluster = string.Join(",", containers.Select(c => $"{c}={EtcdClusterSpec.PeerUrl(c, spec.Tls)}"));
            var createdAt = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);

            for (var i = 0; i < spec.Size; i++)
            {
                progress.Step($"Creating member {containers[i]} ({i + 1}/{spec.Size})");
                var memberId = EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute([peerUrls[i]], spec.ClusterToken));
                await CreateMemberContainerAsync(spec, i, initialCluster, "new", memberId, version, createdAt, created, ct).ConfigureAwait(false);
            }

            log.Phase($"{spec.Size} volumes and containers created");

            if (spec.BeforeStart is { } seed)
            {
                await seed(new EtcdClusterSeed(spec, version, containers, peerUrls, initialCluster), ct).ConfigureAwait(false);
            }

            // One after the other, each once the previous one has started its server. Side by side,
            // or each right after the engine's answer, members sat in etcd's bootstrap check for up
            // to 1 s per peer that was still starting (see MemberServerStart; bench/RESULTS.md).
            for (var i = 0; i < spec.Size; i++)
            {
                if (i > 0)
                {
                    var waited = await MemberServerStart.WaitAsync(docker, created.Containers[i - 1], ct).ConfigureAwait(false);
                    log.Verbose(waited is { } w
                        ? $"{containers[i - 1]} started its server after {w.TotalMilliseconds:0} ms."
                        : $"{containers[i - 1]} did not log its server start within {MemberServerStart.MaxWait.TotalSeconds:0.#} s; starting the next member anyway.");
                }
                progress.Step($"Starting member {containers[i]} ({i + 1}/{spec.Size})");
                log.Verbose($"docker start {containers[i]}");
                try
                {
                    await docker.StartContainerAsync(created.Containers[i], ct).ConfigureAwait(false);
                }
                catch (DockerApiException ex)
                {
                    throw new K3dEtcdException(DockerAdapter.IsPortConflict(ex) ? ErrorCatalog.ClientPortInUse : ErrorCatalog.MemberStartFailed,
                        $"Member {containers[i]} could not start: {DockerAdapter.DockerMessage(ex)}", containers[i], ex);
                }
            }

            log.Phase($"{spec.Size} members started");

            var cluster = await GetAsync(spec.Name, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.ClusterVanished, $"The containers of cluster '{spec.Name}' disappeared while it was being created.", spec.Name);
            await new QuorumWait(docker, log).WaitAsync(cluster, spec.Timeout, activity, ct).ConfigureAwait(false);
            progress.Complete();
            var readBack = await GetAsync(spec.Name, ct).ConfigureAwait(false) ?? cluster;
            log.Phase("cluster read back");
            return readBack;
        }
        catch (Exception ex)
        {
            progress.Complete();
            var detail = ex is K3dEtcdException { Target: string member } && created.Containers.Count > 0
                ? await docker.TailLogsAsync(member, 15).ConfigureAwait(false)
                : null;
            log.Verbose($"Rolling back cluster '{spec.Name}': {created.Containers.Count} containers, {created.Volumes.Count} volumes, {(created.Network is null ? "no" : "1")} network{(created.TlsDirectory is null ? "" : ", the TLS directory")}");
            await RollbackAsync(created).ConfigureAwait(false);
            if (ex is K3dEtcdException kex && detail is { Length: > 0 })
            {
                throw new K3dEtcdException(kex, $"{kex.Message}{Environment.NewLine}Last log lines of {kex.Target}:{Environment.NewLine}{detail}");
            }
            if (ex is IOException or UnauthorizedAccessException)
            {
                throw new K3dEtcdException(ErrorCatalog.TlsMaterialFailed,
                    $"The TLS material of cluster '{spec.Name}' could not be written to {spec.TlsDirectory}: {ex.Message}", spec.TlsDirectory, ex);
            }
            if (ex is DockerApiException dex)
            {
                throw new K3dEtcdException(ErrorCatalog.DockerOperationFailed, $"Docker refused an operation while creating cluster '{spec.Name}': {DockerAdapter.DockerMessage(dex)}", spec.Name, dex);
            }
            throw;
        }
    }

    /// <summary>
    /// Creates one member's labelled volume and container (not started). Used for the initial
    /// members (state "new") and for members added later (state "existing").
    /// </summary>
    internal async Task<string> CreateMemberContainerAsync(EtcdClusterSpec spec, int index, string initialCluster, string initialClusterState,
        string memberId, string? version, string createdAt, CreatedResources created, CancellationToken ct)
    {
        var container = EtcdClusterSpec.ContainerName(spec.Name, index);
        var volume = EtcdClusterSpec.VolumeName(spec.Name, index);
        log.Verbose($"docker volume create {volume}");
        await docker.CreateVolumeAsync(volume, new Dictionary<string, string> { [Labels.Cluster] = spec.Name, [Labels.Member] = container }, ct).ConfigureAwait(false);
        created.Volumes.Add(volume);

        var labels = MemberLabels(spec, index, memberId, version, createdAt);
        var binds = new List<string> { $"{volume}:/var/lib/etcd" };
        if (spec.Tls)
        {
            labels[Labels.Tls] = "true";
            labels[Labels.TlsDir] = spec.TlsDirectory;
            // Only this member's certificates and the CA certificate, read-only; the CA key stays on the host.
            binds.Add($"{ClusterTlsStore.MemberDirectory(spec.TlsDirectory, container)}:{ClusterTlsStore.ContainerPkiDirectory}:ro");
        }

        var command = EtcdCommandLine.Build(container, initialCluster, initialClusterState, spec);
        var port = spec.ClientPort is { } p ? p + index : PinHostPorts ? DockerAdapter.PickHostPort(spec.HostAddress, created.HostPorts) : null;
        var hostPort = port?.ToString(CultureInfo.InvariantCulture) ?? "";
        if (spec.ClientPort is { } first) labels[Labels.ClientPortBase] = first.ToString(CultureInfo.InvariantCulture);
        log.Verbose($"docker create --name {container} --network {spec.NetworkName} -p {spec.HostAddress}:{hostPort}:2379 {string.Join(' ', binds.Select(b => $"-v {b}"))} {spec.Image} {string.Join(' ', command)}");
        var id = await docker.CreateContainerAsync(new CreateContainerParameters
        {
            Name = container,
            Hostname = container,
            Image = spec.Image,
            Cmd = command,
            Labels = labels,
            ExposedPorts = new Dictionary<string, EmptyStruct> { [ClientPortKey] = default, ["2380/tcp"] = default },
            HostConfig = new HostConfig
            {
                NetworkMode = spec.NetworkName,
                Binds = binds,
                PortBindings = new Dictionary<string, IList<PortBinding>>
                {
                    [ClientPortKey] = [new PortBinding { HostIP = spec.HostAddress, HostPort = hostPort }],
                },
            },
        }, ct).ConfigureAwait(false);
        created.Containers.Add(id);
        return id;
    }

    /// <summary>The labels every member container carries, whatever the engine and network.</summary>
    internal static Dictionary<string, string> MemberLabels(EtcdClusterSpec spec, int index, string memberId, string? version, string createdAt)
    {
        var labels = new Dictionary<string, string>
        {
            [Labels.Cluster] = spec.Name,
            [Labels.Member] = EtcdClusterSpec.ContainerName(spec.Name, index),
            [Labels.MemberIndex] = index.ToString(CultureInfo.InvariantCulture),
            [Labels.MemberId] = memberId,
            [Labels.Network] = spec.NetworkName,
            [Labels.Token] = spec.ClusterToken,
            [Labels.EnableV2] = spec.EnableV2 ? "true" : "false",
            [Labels.Created] = createdAt,
            [Labels.ModuleVersion] = typeof(EtcdClusterService).Assembly.GetName().Version?.ToString(3) ?? "",
        };
        if (version is not null) labels[Labels.Version] = version;
        return labels;
    }

    private static void EnsureV2Supported(EtcdClusterSpec spec, string? version)
    {
        if (spec.EnableV2 && !EtcdVersion.SupportsV2(version))
        {
            throw new K3dEtcdException(ErrorCatalog.EnableV2NotSupported,
                $"-EnableV2 needs etcd 3.4 or 3.5; image '{spec.Image}' is etcd {version}, which removed the v2 API and the --enable-v2 flag. Leader statistics work without it (from the v3 API and /metrics).", spec.Image);
        }
    }

    private async Task EnsureNameIsFreeAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        var existing = await docker.ListContainersAsync(Labels.ClusterFilter(spec.Name), ct).ConfigureAwait(false);
        if (existing.Count > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterExists,
                $"An etcd cluster named '{spec.Name}' already exists. Remove it first (Remove-EtcdCluster {spec.Name}) or choose another name.", spec.Name);
        }
        var names = await docker.ContainerNamesAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < spec.Size; i++)
        {
            var container = EtcdClusterSpec.ContainerName(spec.Name, i);
            if (names.Contains(container))
            {
                throw new K3dEtcdException(ErrorCatalog.ContainerNameInUse,
                    $"A container named '{container}' already exists and is not part of an etcd cluster made by K3dEtcd; choose another cluster name.", container);
            }
        }
        var volumeNames = await docker.VolumeNamesAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < spec.Size; i++)
        {
            var volume = EtcdClusterSpec.VolumeName(spec.Name, i);
            if (volumeNames.Contains(volume))
            {
                throw new K3dEtcdException(ErrorCatalog.VolumeNameInUse,
                    $"A volume named '{volume}' already exists (left by an earlier cluster removed with -KeepData?). Remove it with 'docker volume rm {volume}' or choose another cluster name.", volume);
            }
        }
    }

    private async Task EnsureImageAsync(string image, ImagePullPolicy policy, CancellationToken ct)
    {
        if (await docker.ImageExistsAsync(image, ct).ConfigureAwait(false)) return;

        if (policy == ImagePullPolicy.Never)
        {
            throw new K3dEtcdException(ErrorCatalog.ImageNotFound,
                $"The etcd image '{image}' is not present and pulling is disabled ({EtcdClusterSpec.PullPolicyEnvironmentVariable}=Never). Pull or build it first (docker pull {image}), or pass another -Image.", image);
        }

        log.Verbose($"docker pull {image}");
        try
        {
            await docker.PullImageAsync(image, $"Pulling {image}", ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            throw new K3dEtcdException(ErrorCatalog.ImagePullFailed,
                $"The etcd image '{image}' is not present locally and could not be pulled: {(ex is DockerApiException d ? DockerAdapter.DockerMessage(d) : ex.Message)}. Pull or load it yourself (docker pull / docker load), pass another -Image, or set {EtcdClusterSpec.ImageEnvironmentVariable}.", image, ex);
        }
    }

    /// <summary>Runs `etcd --version` in a throwaway container when the tag does not tell.</summary>
    private async Task<string?> DetectVersionAsync(string image, CancellationToken ct)
    {
        log.Verbose($"docker run --rm {image} /usr/local/bin/etcd --version");
        try
        {
            var output = await docker.RunToCompletionAsync(new CreateContainerParameters
            {
                Image = image,
                Cmd = ["/usr/local/bin/etcd", "--version"],
                Labels = new Dictionary<string, string> { [Labels.Prefix + "probe"] = "version" },
                HostConfig = new HostConfig { NetworkMode = "none" },
            }, TimeSpan.FromSeconds(20), ct).ConfigureAwait(false);
            return EtcdVersion.ParseVersionOutput(output);
        }
        catch (DockerApiException ex)
        {
            log.Verbose($"Could not detect the etcd version of '{image}': {DockerAdapter.DockerMessage(ex)}");
            return null;
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            // Our own 20 s wait ran out (not Ctrl+C): say which container did not answer.
            throw new K3dEtcdException(ErrorCatalog.ImageVersionProbeTimeout,
                $"`etcd --version` in a throwaway container of image '{image}' did not finish within 20 s; the image may not hold /usr/local/bin/etcd. An image tag that names the version (for example :3.5.16) skips the check.", image, ex);
        }
    }

    private async Task EnsureNetworkAsync(EtcdClusterSpec spec, CreatedResources created, CancellationToken ct)
    {
        var networks = await docker.ListNetworksAsync(null, ct).ConfigureAwait(false);
        var existing = networks.FirstOrDefault(n => n.Name == spec.NetworkName);
        if (existing is not null)
        {
            if (string.IsNullOrEmpty(spec.Network))
            {
                throw new K3dEtcdException(ErrorCatalog.NetworkNameInUse,
                    $"A Docker network named '{spec.NetworkName}' already exists; remove it or pass -Network to join it deliberately.", spec.NetworkName);
            }
            log.Verbose($"Joining the existing network {spec.NetworkName} (it is not removed with the cluster)");
            return;
        }
        log.Verbose($"docker network create {spec.NetworkName}");
created.Network = await docker.CreateNetworkAsync(spec.NetworkName, new Dictionary<string, string> { [Labels.Cluster] = spec.Name }, ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- read

    public async Task<IReadOnlyList<EtcdCluster>> ListAsync(CancellationToken ct)
    {
        var containers = await docker.ListContainersAsync(Labels.ClusterFilter(null), ct).ConfigureAwait(false);
        var (all, unreachable) = await AcrossEnginesAsync(containers, null, ct).ConfigureAwait(false);
        return all
            .Where(c => c.Labels.ContainsKey(Labels.Member))
            .GroupBy(c => c.Labels[Labels.Cluster], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ClusterModel.ToCluster(g.Key, g.ToList(), unreachable))
            .ToList();
    }

    /// <summary>
    /// The one way a cluster given by name becomes a cluster: read from its containers' labels
    /// (Docker is the only store), or EtcdClusterNotFound. Cmdlets, the member service and the
    /// k3d datastore resolution all come here; <see cref="GetAsync"/> is the same read for callers
    /// that treat a missing cluster as an answer (completers, Get-EtcdCluster).
    /// </summary>
    public async Task<EtcdCluster> ResolveAsync(string name, CancellationToken ct) =>
        await GetAsync(name, ct).ConfigureAwait(false) ?? throw NotFound(name);

    public static K3dEtcdException NotFound(string name) =>
        new(ErrorCatalog.EtcdClusterNotFound, $"No etcd cluster named '{name}' was found (clusters are found by the Docker label io.k3detcd.cluster).", name);

    public async Task<EtcdCluster?> GetAsync(string name, CancellationToken ct)
    {
        var containers = await docker.ListContainersAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false);
        var (all, unreachable) = await AcrossEnginesAsync(containers, name, ct).ConfigureAwait(false);
        var members = all.Where(c => c.Labels.ContainsKey(Labels.Member)).ToList();
        return members.Count == 0 ? null : ClusterModel.ToCluster(name, members, unreachable);
    }

    private sealed class ProgressSteps(IOperationLog log, string activity, int totalSteps)
    {
        private int _done;
        public void Step(string status)
        {
            log.Progress(new OperationProgress(activity, status, Math.Min(50, 50 * _done / Math.Max(1, totalSteps))));
            _done++;
        }
        public void Complete() => log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
    }
}

