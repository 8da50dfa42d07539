using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using K3dEtcd.Common;
using K3dEtcd.Etcd;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Docker;

/// <summary>Creates, finds and removes etcd clusters made of labelled Docker containers.</summary>
public sealed partial class EtcdClusterService(IDockerClient docker, IOperationLog log)
{
    public EtcdClusterService(DockerConnection docker, IOperationLog log) : this(docker.Client, log) => PinHostPorts = docker.EngineIsLocal;

    /// <summary>
    /// Choose each member's host port at creation and fix it in the port binding, so a member keeps
    /// its client URL when it is stopped and started again (with an empty host port Docker picks a
    /// new random one on every start). Only where the engine is on this machine, because the free
    /// ports are found here.
    /// </summary>
    internal bool PinHostPorts { get; init; } = true;

    private const string ClientPortKey = "2379/tcp";

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    private static partial Regex ValidName();

    public static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || !ValidName().IsMatch(name))
        {
            throw new K3dEtcdException("InvalidClusterName", FailureKind.InvalidArgument,
                $"'{name}' is not a valid cluster name: use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit (Docker's container name rules).", name);
        }
    }

    public static void ValidateSpec(EtcdClusterSpec spec)
    {
        ValidateName(spec.Name);
        if (spec.Size is < 1 or > EtcdClusterSpec.MaxSize)
        {
            throw new K3dEtcdException("InvalidClusterSize", FailureKind.InvalidArgument,
                $"Size {spec.Size} is out of range: an etcd cluster here has 1 to {EtcdClusterSpec.MaxSize} members.", spec.Size);
        }
        if (!IPAddress.TryParse(spec.HostAddress, out _))
        {
            throw new K3dEtcdException("InvalidHostAddress", FailureKind.InvalidArgument,
                $"'{spec.HostAddress}' is not an IP address to publish client ports on (for example 127.0.0.1).", spec.HostAddress);
        }
        if (spec.ClientPort is { } port && (port < 1 || port + spec.Size - 1 > 65535))
        {
            throw new K3dEtcdException("InvalidClientPort", FailureKind.InvalidArgument,
                $"Client ports {port}..{port + spec.Size - 1} are not all valid TCP ports.", port);
        }
        if (spec.Timeout <= TimeSpan.Zero)
        {
            throw new K3dEtcdException("InvalidTimeout", FailureKind.InvalidArgument, "The timeout must be positive.", spec.Timeout);
        }
        if (!spec.Tls && spec.TlsSans.Count > 0)
        {
            throw new K3dEtcdException("TlsSanWithoutTls", FailureKind.InvalidArgument,
                "-TlsSan names go on TLS server certificates; add -Tls to make a TLS cluster.", spec.TlsSans[0]);
        }
        foreach (var san in spec.TlsSans) ClusterTlsStore.ValidateSan(san);
        Operations.EtcdClusterSeed.ValidateQuotaAndCompaction(spec);
        if (spec.CertificateValidityDays is < 1 or > CertificateAuthority.MaxValidityDays)
        {
            throw new K3dEtcdException("InvalidCertificateValidity", FailureKind.InvalidArgument,
                $"Certificate validity {spec.CertificateValidityDays} days is out of range: use 1 to {CertificateAuthority.MaxValidityDays} days.", spec.CertificateValidityDays);
        }
    }

    // ---------------------------------------------------------------- create

    public async Task<EtcdCluster> CreateAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        ValidateSpec(spec);
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
        if (spec.Tls && (Directory.Exists(spec.TlsDirectory) || File.Exists(spec.TlsDirectory)))
        {
            throw ClusterTlsStore.TlsDirectoryExists(spec.TlsDirectory, spec.Name);
        }
        progress.Step("Checking the image");
        await EnsureImageAsync(spec.Image, spec.PullPolicy, ct).ConfigureAwait(false);
        version ??= await DetectVersionAsync(spec.Image, ct).ConfigureAwait(false);
        EnsureV2Supported(spec, version);

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
            }

            progress.Step($"Creating network {spec.NetworkName}");
            await EnsureNetworkAsync(spec, created, ct).ConfigureAwait(false);

            var peerUrls = containers.Select(c => EtcdClusterSpec.PeerUrl(c, spec.Tls)).ToArray();
            var initialCluster = string.Join(",", containers.Select(c => $"{c}={EtcdClusterSpec.PeerUrl(c, spec.Tls)}"));
            var createdAt = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);

            for (var i = 0; i < spec.Size; i++)
            {
                progress.Step($"Creating member {containers[i]} ({i + 1}/{spec.Size})");
                var memberId = EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute([peerUrls[i]], spec.ClusterToken));
                await CreateMemberContainerAsync(spec, i, initialCluster, "new", memberId, version, createdAt, created, ct).ConfigureAwait(false);
            }

            if (spec.BeforeStart is { } seed)
            {
                await seed(new Operations.EtcdClusterSeed(spec, version, containers, peerUrls, initialCluster), ct).ConfigureAwait(false);
            }

            for (var i = 0; i < spec.Size; i++)
            {
                progress.Step($"Starting member {containers[i]} ({i + 1}/{spec.Size})");
                log.Verbose($"docker start {containers[i]}");
                try
                {
                    await docker.Containers.StartContainerAsync(created.Containers[i], new ContainerStartParameters(), ct).ConfigureAwait(false);
                }
                catch (DockerApiException ex)
                {
                    throw new K3dEtcdException(IsPortConflict(ex) ? "ClientPortInUse" : "MemberStartFailed",
                        IsPortConflict(ex) ? FailureKind.ResourceUnavailable : FailureKind.InvalidResult,
                        $"Member {containers[i]} could not start: {DockerMessage(ex)}", containers[i], ex);
                }
            }

            var cluster = await GetAsync(spec.Name, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException("ClusterVanished", FailureKind.InvalidResult, $"The containers of cluster '{spec.Name}' disappeared while it was being created.", spec.Name);
            await WaitForQuorumAsync(cluster, spec.Timeout, activity, ct).ConfigureAwait(false);
            progress.Complete();
            return await GetAsync(spec.Name, ct).ConfigureAwait(false) ?? cluster;
        }
        catch (Exception ex)
        {
            progress.Complete();
            var detail = ex is K3dEtcdException { Target: string member } && created.Containers.Count > 0
                ? await TailLogsAsync(member, 15).ConfigureAwait(false)
                : null;
            log.Verbose($"Rolling back cluster '{spec.Name}': {created.Containers.Count} containers, {created.Volumes.Count} volumes, {(created.Network is null ? "no" : "1")} network{(created.TlsDirectory is null ? "" : ", the TLS directory")}");
            await RollbackAsync(created).ConfigureAwait(false);
            if (ex is K3dEtcdException kex && detail is { Length: > 0 })
            {
                throw new K3dEtcdException(kex.ErrorId, kex.Kind, $"{kex.Message}{Environment.NewLine}Last log lines of {kex.Target}:{Environment.NewLine}{detail}", kex.Target, kex.InnerException);
            }
            if (ex is IOException or UnauthorizedAccessException)
            {
                throw new K3dEtcdException("TlsMaterialFailed", FailureKind.ResourceUnavailable,
                    $"The TLS material of cluster '{spec.Name}' could not be written to {spec.TlsDirectory}: {ex.Message}", spec.TlsDirectory, ex);
            }
            if (ex is DockerApiException dex)
            {
                throw new K3dEtcdException("DockerOperationFailed", FailureKind.InvalidResult, $"Docker refused an operation while creating cluster '{spec.Name}': {DockerMessage(dex)}", spec.Name, dex);
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
        await docker.Volumes.CreateAsync(new VolumesCreateParameters
        {
            Name = volume,
            Labels = new Dictionary<string, string> { [Labels.Cluster] = spec.Name, [Labels.Member] = container },
        }, ct).ConfigureAwait(false);
        created.Volumes.Add(volume);

        var labels = new Dictionary<string, string>
        {
            [Labels.Cluster] = spec.Name,
            [Labels.Member] = container,
            [Labels.MemberIndex] = index.ToString(CultureInfo.InvariantCulture),
            [Labels.MemberId] = memberId,
            [Labels.Network] = spec.NetworkName,
            [Labels.Token] = spec.ClusterToken,
            [Labels.EnableV2] = spec.EnableV2 ? "true" : "false",
            [Labels.Created] = createdAt,
            [Labels.ModuleVersion] = typeof(EtcdClusterService).Assembly.GetName().Version?.ToString(3) ?? "",
        };
        if (version is not null) labels[Labels.Version] = version;
        var binds = new List<string> { $"{volume}:/var/lib/etcd" };
        if (spec.Tls)
        {
            labels[Labels.Tls] = "true";
            labels[Labels.TlsDir] = spec.TlsDirectory;
            // Only this member's certificates and the CA certificate, read-only; the CA key stays on the host.
            binds.Add($"{ClusterTlsStore.MemberDirectory(spec.TlsDirectory, container)}:{ClusterTlsStore.ContainerPkiDirectory}:ro");
        }

        var command = BuildEtcdCommand(container, initialCluster, initialClusterState, spec);
        var port = spec.ClientPort is { } p ? p + index : PinHostPorts ? PickHostPort(spec.HostAddress, created.HostPorts) : null;
        var hostPort = port?.ToString(CultureInfo.InvariantCulture) ?? "";
        if (spec.ClientPort is { } first) labels[Labels.ClientPortBase] = first.ToString(CultureInfo.InvariantCulture);
        log.Verbose($"docker create --name {container} --network {spec.NetworkName} -p {spec.HostAddress}:{hostPort}:2379 {string.Join(' ', binds.Select(b => $"-v {b}"))} {spec.Image} {string.Join(' ', command)}");
        var response = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
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
        created.Containers.Add(response.ID);
        return response.ID;
    }

    private static void EnsureV2Supported(EtcdClusterSpec spec, string? version)
    {
        if (spec.EnableV2 && !EtcdVersion.SupportsV2(version))
        {
            throw new K3dEtcdException("EnableV2NotSupported", FailureKind.InvalidArgument,
                $"-EnableV2 needs etcd 3.4 or 3.5; image '{spec.Image}' is etcd {version}, which removed the v2 API and the --enable-v2 flag. Leader statistics work without it (from the v3 API and /metrics).", spec.Image);
        }
    }

    internal static List<string> BuildEtcdCommand(string container, string initialCluster, string initialClusterState, EtcdClusterSpec spec)
    {
        var scheme = EtcdClusterSpec.Scheme(spec.Tls);
        var command = new List<string>
        {
            "/usr/local/bin/etcd",
            "--name", container,
            "--data-dir", "/var/lib/etcd/data",
            "--listen-client-urls", $"{scheme}://0.0.0.0:2379",
            "--advertise-client-urls", EtcdClusterSpec.NetworkClientUrl(container, spec.Tls),
            "--listen-peer-urls", $"{scheme}://0.0.0.0:2380",
            "--initial-advertise-peer-urls", EtcdClusterSpec.PeerUrl(container, spec.Tls),
            "--initial-cluster", initialCluster,
            "--initial-cluster-token", spec.ClusterToken,
            "--initial-cluster-state", initialClusterState,
        };
        if (spec.Tls)
        {
            const string pki = ClusterTlsStore.ContainerPkiDirectory;
            command.AddRange([
                "--client-cert-auth",
                "--trusted-ca-file", $"{pki}/{ClusterTlsStore.CaFileName}",
                "--cert-file", $"{pki}/{ClusterTlsStore.ServerCertFileName}",
                "--key-file", $"{pki}/{ClusterTlsStore.ServerKeyFileName}",
                "--peer-client-cert-auth",
                "--peer-trusted-ca-file", $"{pki}/{ClusterTlsStore.CaFileName}",
                "--peer-cert-file", $"{pki}/{ClusterTlsStore.PeerCertFileName}",
                "--peer-key-file", $"{pki}/{ClusterTlsStore.PeerKeyFileName}",
            ]);
        }
        if (spec.EnableV2) command.Add("--enable-v2=true");
        // One token each (--flag=value), so Add-EtcdMember carries them to new members with the other extra arguments.
        if (spec.QuotaBackendBytes is { } quota) command.Add($"--quota-backend-bytes={quota.ToString(CultureInfo.InvariantCulture)}");
        if (spec.AutoCompactionMode is { } mode) command.Add($"--auto-compaction-mode={mode}");
        if (spec.AutoCompactionRetention is { } retention) command.Add($"--auto-compaction-retention={retention}");
        command.AddRange(spec.ExtraArguments);
        return command;
    }

    private async Task EnsureNameIsFreeAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        var existing = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Labels.ClusterFilter(spec.Name) }, ct).ConfigureAwait(false);
        if (existing.Count > 0)
        {
            throw new K3dEtcdException("ClusterExists", FailureKind.ResourceExists,
                $"An etcd cluster named '{spec.Name}' already exists. Remove it first (Remove-EtcdCluster {spec.Name}) or choose another name.", spec.Name);
        }
        var all = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, ct).ConfigureAwait(false);
        var names = all.SelectMany(c => c.Names).Select(n => n.TrimStart('/')).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < spec.Size; i++)
        {
            var container = EtcdClusterSpec.ContainerName(spec.Name, i);
            if (names.Contains(container))
            {
                throw new K3dEtcdException("ContainerNameInUse", FailureKind.ResourceExists,
                    $"A container named '{container}' already exists and is not part of an etcd cluster made by K3dEtcd; choose another cluster name.", container);
            }
        }
        var volumes = await docker.Volumes.ListAsync(new VolumesListParameters(), ct).ConfigureAwait(false);
        var volumeNames = (volumes.Volumes ?? []).Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < spec.Size; i++)
        {
            var volume = EtcdClusterSpec.VolumeName(spec.Name, i);
            if (volumeNames.Contains(volume))
            {
                throw new K3dEtcdException("VolumeNameInUse", FailureKind.ResourceExists,
                    $"A volume named '{volume}' already exists (left by an earlier cluster removed with -KeepData?). Remove it with 'docker volume rm {volume}' or choose another cluster name.", volume);
            }
        }
    }

    private async Task EnsureImageAsync(string image, ImagePullPolicy policy, CancellationToken ct)
    {
        try
        {
            await docker.Images.InspectImageAsync(image, ct).ConfigureAwait(false);
            return;
        }
        catch (DockerImageNotFoundException) { }
        catch (DockerApiException ex) when (ex.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest) { }

        if (policy == ImagePullPolicy.Never)
        {
            throw new K3dEtcdException("ImageNotFound", FailureKind.ObjectNotFound,
                $"The etcd image '{image}' is not present and pulling is disabled ({EtcdClusterSpec.PullPolicyEnvironmentVariable}=Never). Pull or build it first (docker pull {image}), or pass another -Image.", image);
        }

        var (repository, tag) = SplitImage(image);
        log.Verbose($"docker pull {image}");
        var pullActivity = $"Pulling {image}";
        try
        {
            await docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null,
                new Progress<JSONMessage>(m => { if (!string.IsNullOrEmpty(m.Status)) log.Progress(new OperationProgress(pullActivity, $"{m.ID} {m.Status}".Trim(), -1, ActivityId: 2)); }),
                ct).ConfigureAwait(false);
            log.Progress(new OperationProgress(pullActivity, "Done", 100, ActivityId: 2, Completed: true));
            await docker.Images.InspectImageAsync(image, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            throw new K3dEtcdException("ImagePullFailed", FailureKind.ObjectNotFound,
                $"The etcd image '{image}' is not present locally and could not be pulled: {(ex is DockerApiException d ? DockerMessage(d) : ex.Message)}. Pull or load it yourself (docker pull / docker load), pass another -Image, or set {EtcdClusterSpec.ImageEnvironmentVariable}.", image, ex);
        }
    }

    internal static (string Repository, string Tag) SplitImage(string image)
    {
        var at = image.IndexOf('@');
        if (at > 0) return (image[..at], image[(at + 1)..]);
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>Runs `etcd --version` in a throwaway container when the tag does not tell.</summary>
    private async Task<string?> DetectVersionAsync(string image, CancellationToken ct)
    {
        log.Verbose($"docker run --rm {image} /usr/local/bin/etcd --version");
        string? id = null;
        try
        {
            id = (await docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = image,
                Cmd = ["/usr/local/bin/etcd", "--version"],
                Labels = new Dictionary<string, string> { [Labels.Prefix + "probe"] = "version" },
                HostConfig = new HostConfig { NetworkMode = "none" },
            }, ct).ConfigureAwait(false)).ID;
            await docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct).ConfigureAwait(false);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(20));
            await docker.Containers.WaitContainerAsync(id, wait.Token).ConfigureAwait(false);
            return EtcdVersion.ParseVersionOutput(await ReadLogsAsync(id, null, ct).ConfigureAwait(false));
        }
        catch (DockerApiException ex)
        {
            log.Verbose($"Could not detect the etcd version of '{image}': {DockerMessage(ex)}");
            return null;
        }
        finally
        {
            if (id is not null)
            {
                try { await docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false); }
                catch (DockerApiException) { }
            }
        }
    }

    private async Task EnsureNetworkAsync(EtcdClusterSpec spec, CreatedResources created, CancellationToken ct)
    {
        var networks = await docker.Networks.ListNetworksAsync(new NetworksListParameters(), ct).ConfigureAwait(false);
        var existing = networks.FirstOrDefault(n => n.Name == spec.NetworkName);
        if (existing is not null)
        {
            if (string.IsNullOrEmpty(spec.Network))
            {
                throw new K3dEtcdException("NetworkNameInUse", FailureKind.ResourceExists,
                    $"A Docker network named '{spec.NetworkName}' already exists; remove it or pass -Network to join it deliberately.", spec.NetworkName);
            }
            log.Verbose($"Joining the existing network {spec.NetworkName} (it is not removed with the cluster)");
            return;
        }
        log.Verbose($"docker network create {spec.NetworkName}");
        var response = await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = spec.NetworkName,
            Driver = "bridge",
            Labels = new Dictionary<string, string> { [Labels.Cluster] = spec.Name },
        }, ct).ConfigureAwait(false);
        created.Network = response.ID;
    }

    private async Task WaitForQuorumAsync(EtcdCluster cluster, TimeSpan timeout, string activity, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        // A member that is still starting can hold a request open for a second or more, while a fresh
        // request once it is ready answers in milliseconds: retry soon with short attempts, growing
        // them so a slow (loaded, TLS) machine still gets through.
        using var http = new HttpClient(CreateProbeHandler(cluster)) { Timeout = Timeout.InfiniteTimeSpan };
        var attemptTimeout = TimeSpan.FromMilliseconds(300);
        var probe = new EtcdHttpProbe(http);
        var members = cluster.Members;
        try
        {
            while (true)
            {
                foreach (var member in members)
                {
                    var state = await docker.Containers.InspectContainerAsync(member.ContainerId, deadline.Token).ConfigureAwait(false);
                    if (state.State is not { Running: true })
                    {
                        throw new K3dEtcdException("MemberExited", FailureKind.InvalidResult,
                            $"Member {member.Name} stopped while the cluster was starting (exit code {state.State?.ExitCode}).", member.ContainerName);
                    }
                }
                var checks = await Task.WhenAll(members.Where(m => m.ClientUrl is not null).Select(async m =>
                {
                    // Status answers at once, leader or not; /health blocks while there is no leader.
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                    attempt.CancelAfter(attemptTimeout);
                    try
                    {
                        var leader = await probe.GetLeaderAsync(m.ClientUrl!, attempt.Token).ConfigureAwait(false);
                        var healthy = leader is not (null or "0") && await probe.IsHealthyAsync(m.ClientUrl!, attempt.Token).ConfigureAwait(false);
                        return (Healthy: healthy, Leader: healthy ? leader : null);
                    }
                    catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
                    {
                        return (Healthy: false, Leader: (string?)null);
                    }
                })).ConfigureAwait(false);
                var healthyCount = checks.Count(c => c.Healthy);
                var leaders = checks.Where(c => c.Leader is not null).Select(c => c.Leader!).ToHashSet();
                var hasOneLeader = leaders.Count == 1 && leaders.First() != "0";
                log.Progress(new OperationProgress(activity,
                    healthyCount < members.Length ? $"Members healthy: {healthyCount}/{members.Length}" : hasOneLeader ? "Leader elected" : "Waiting for a leader",
                    50 + 50 * healthyCount / (members.Length + 1)));
                if (healthyCount == members.Length && hasOneLeader) return;
                attemptTimeout = TimeSpan.FromMilliseconds(Math.Min(3000, attemptTimeout.TotalMilliseconds * 1.25));
                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException("ClusterStartTimeout", FailureKind.OperationTimeout,
                $"Cluster '{cluster.Name}' did not reach a healthy quorum with one leader within {timeout.TotalSeconds:0} s.", members[0].ContainerName);
        }
    }

    /// <summary>Plain HTTP, or https that presents the cluster's client certificate and trusts only its CA.</summary>
    internal static HttpMessageHandler CreateProbeHandler(EtcdCluster cluster)
    {
        if (cluster.Tls is not { } tls) return new SocketsHttpHandler();
        try
        {
            return TlsClientFactory.CreateHandler(tls.CaFile, tls.ClientCertFile, tls.ClientKeyFile);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new K3dEtcdException("TlsMaterialInvalid", FailureKind.InvalidResult,
                $"The TLS material of cluster '{cluster.Name}' in {tls.Directory} could not be loaded: {ex.Message}", tls.Directory, ex);
        }
    }

    // ---------------------------------------------------------------- read

    public async Task<IReadOnlyList<EtcdCluster>> ListAsync(CancellationToken ct)
    {
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Labels.ClusterFilter(null) }, ct).ConfigureAwait(false);
        return containers
            .Where(c => c.Labels.ContainsKey(Labels.Member))
            .GroupBy(c => c.Labels[Labels.Cluster], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => BuildCluster(g.Key, g.ToList()))
            .ToList();
    }

    public async Task<EtcdCluster?> GetAsync(string name, CancellationToken ct)
    {
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Labels.ClusterFilter(name) }, ct).ConfigureAwait(false);
        var members = containers.Where(c => c.Labels.ContainsKey(Labels.Member)).ToList();
        return members.Count == 0 ? null : BuildCluster(name, members);
    }

    private static EtcdCluster BuildCluster(string name, IList<ContainerListResponse> containers)
    {
        var ordered = containers.OrderBy(c => int.TryParse(Label(c.Labels, Labels.MemberIndex), out var i) ? i : int.MaxValue).ToList();
        var members = ordered.Select(c =>
        {
            var containerName = c.Names.FirstOrDefault()?.TrimStart('/') ?? c.Labels[Labels.Member];
            var published = c.Ports?.FirstOrDefault(p => p.PrivatePort == 2379 && p.PublicPort != 0);
            var tls = Label(c.Labels, Labels.Tls) == "true";
            var scheme = EtcdClusterSpec.Scheme(tls);
            return new EtcdClusterMember
            {
                ClusterName = name,
                Name = c.Labels[Labels.Member],
                Id = Label(c.Labels, Labels.MemberId) ?? "",
                ContainerName = containerName,
                ContainerId = c.ID,
                ClientUrl = published is null ? null : $"{scheme}://{HostForUrl(published.IP)}:{published.PublicPort}",
                NetworkClientUrl = EtcdClusterSpec.NetworkClientUrl(containerName, tls),
                PeerUrl = EtcdClusterSpec.PeerUrl(containerName, tls),
                State = c.State,
                Volume = c.Mounts?.FirstOrDefault(m => m.Destination == "/var/lib/etcd")?.Name ?? "",
            };
        }).ToArray();
        var running = members.Count(m => m.State == "running");
        var first = ordered[0].Labels;
        return new EtcdCluster
        {
            Name = name,
            State = running == members.Length ? EtcdClusterState.Running : running == 0 ? EtcdClusterState.Stopped : EtcdClusterState.Degraded,
            Image = ordered[0].Image,
            Version = Label(first, Labels.Version),
            Network = Label(first, Labels.Network) ?? "",
            ClusterToken = Label(first, Labels.Token) ?? EtcdClusterSpec.DefaultClusterToken,
            V2Enabled = Label(first, Labels.EnableV2) == "true",
            Tls = Label(first, Labels.TlsDir) is { Length: > 0 } tlsDir ? ClusterTlsStore.Read(tlsDir) : null,
            Created = DateTimeOffset.TryParse(Label(first, Labels.Created), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t.UtcDateTime : null,
            Members = members,
        };
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static string HostForUrl(string? ip) => ip switch
    {
        null or "" or "0.0.0.0" => "127.0.0.1",
        "::" => "[::1]",
        _ when ip.Contains(':') => $"[{ip}]",
        _ => ip,
    };

    // ---------------------------------------------------------------- remove

    /// <summary>Removes exactly what carries the cluster's label; returns what was removed.</summary>
    public async Task<RemovedResources> RemoveAsync(string name, bool keepData, CancellationToken ct)
    {
        var removed = new RemovedResources();
        var filter = Labels.ClusterFilter(name);
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, ct).ConfigureAwait(false);
        foreach (var c in containers)
        {
            log.Verbose($"docker rm -f {c.Names.FirstOrDefault()?.TrimStart('/')}");
            await docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true }, ct).ConfigureAwait(false);
            removed.Containers.Add(c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID);
        }
        if (!keepData)
        {
            var volumes = await docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, ct).ConfigureAwait(false);
            foreach (var v in volumes.Volumes ?? [])
            {
                log.Verbose($"docker volume rm {v.Name}");
                await docker.Volumes.RemoveAsync(v.Name, true, ct).ConfigureAwait(false);
                removed.Volumes.Add(v.Name);
            }
        }
        var tlsDirectories = containers.Select(c => Label(c.Labels, Labels.TlsDir)).OfType<string>().Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        foreach (var directory in keepData ? [] : tlsDirectories)
        {
            if (ClusterTlsStore.Delete(directory, name, log)) removed.TlsDirectory = directory;
        }
        var networks = await docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, ct).ConfigureAwait(false);
        foreach (var n in networks)
        {
            log.Verbose($"docker network rm {n.Name}");
            try
            {
                await docker.Networks.DeleteNetworkAsync(n.ID, ct).ConfigureAwait(false);
                removed.Networks.Add(n.Name);
            }
            catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Forbidden || (ex.ResponseBody ?? "").Contains("active endpoints", StringComparison.OrdinalIgnoreCase))
            {
                throw new K3dEtcdException("NetworkInUse", FailureKind.ResourceUnavailable,
                    $"Network {n.Name} of cluster '{name}' still has other containers attached (a k3d cluster?); its etcd members were removed, the network was kept. {DockerMessage(ex)}", n.Name, ex);
            }
        }
        return removed;
    }

    internal async Task RollbackAsync(CreatedResources created)
    {
        // Roll-back must finish even when the user pressed Ctrl+C: never pass the cancelled token.
        foreach (var id in Enumerable.Reverse(created.Containers))
        {
            try { await docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove container {id}: {DockerMessage(ex)}"); }
        }
        foreach (var volume in created.Volumes)
        {
            try { await docker.Volumes.RemoveAsync(volume, true, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove volume {volume}: {DockerMessage(ex)}"); }
        }
        if (created.Network is not null)
        {
            try { await docker.Networks.DeleteNetworkAsync(created.Network, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerApiException ex) { log.Warning($"Roll-back could not remove network {created.Network}: {DockerMessage(ex)}"); }
        }
        if (created.MemberTlsDirectory is not null && Directory.Exists(created.MemberTlsDirectory))
        {
            try { Directory.Delete(created.MemberTlsDirectory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Roll-back could not delete {created.MemberTlsDirectory}: {ex.Message}"); }
        }
        if (created.TlsDirectory is not null && Directory.Exists(created.TlsDirectory))
        {
            try { Directory.Delete(created.TlsDirectory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Roll-back could not delete the TLS directory {created.TlsDirectory}: {ex.Message}"); }
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>
    /// The log lines that explain a failure: error-looking lines (etcd prints a bad flag before
    /// pages of usage) and then the last few lines.
    /// </summary>
    public async Task<string> TailLogsAsync(string container, int lines)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var all = (await ReadLogsAsync(container, 200, cts.Token).ConfigureAwait(false)).Split(Environment.NewLine);
            var errors = all.Where(l => ErrorLine().IsMatch(l)).Take(lines);
            var tail = all.Where(l => l.Trim().Length > 0).TakeLast(Math.Max(3, lines / 3));
            return string.Join(Environment.NewLine, errors.Concat(tail).Distinct()).TrimEnd();
        }
        catch (Exception ex) when (ex is DockerApiException or OperationCanceledException)
        {
            return "";
        }
    }

    [GeneratedRegex(@"error|fatal|panic|flag provided|invalid|cannot|failed", RegexOptions.IgnoreCase)]
    private static partial Regex ErrorLine();

    private async Task<string> ReadLogsAsync(string container, int? tail, CancellationToken ct)
    {
        var lines = new List<string>();
        await docker.Containers.GetContainerLogsAsync(container, new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Follow = false,
            Tail = tail?.ToString(CultureInfo.InvariantCulture) ?? "all",
        }, new SynchronousProgress<string>(line => { lock (lines) lines.Add(line.TrimEnd('\n', '\r')); }), ct).ConfigureAwait(false);
        lock (lines) return string.Join(Environment.NewLine, lines);
    }

    private static bool IsPortConflict(DockerApiException ex) =>
        (ex.ResponseBody ?? "").Contains("port is already allocated", StringComparison.OrdinalIgnoreCase)
        || (ex.ResponseBody ?? "").Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    internal static string DockerMessage(DockerApiException ex)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(ex.ResponseBody ?? "");
            if (doc.RootElement.TryGetProperty("message", out var m)) return m.GetString() ?? ex.Message;
        }
        catch (System.Text.Json.JsonException) { }
        return string.IsNullOrWhiteSpace(ex.ResponseBody) ? ex.Message : ex.ResponseBody.Trim();
    }

    /// <summary>
    /// A port that is free on <paramref name="hostAddress"/> now and not handed out yet in this
    /// operation; null when this machine cannot bind that address (Docker then picks).
    /// </summary>
    internal static int? PickHostPort(string hostAddress, ISet<int> taken)
    {
        if (!IPAddress.TryParse(hostAddress, out var address)) return null;
        for (var attempt = 0; attempt < 16; attempt++)
        {
            try
            {
                using var probe = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(address, 0));
                var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
                if (taken.Add(port)) return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>What an operation created so far, so a failure can remove exactly that.</summary>
    internal sealed class CreatedResources
    {
        /// <summary>Host ports chosen so far, so two members never get the same one.</summary>
        public HashSet<int> HostPorts { get; } = [];
        public List<string> Containers { get; } = [];
        public List<string> Volumes { get; } = [];
        public string? Network { get; set; }
        /// <summary>Set before the first file is written, so a failure half-way still removes it.</summary>
        public string? TlsDirectory { get; set; }
        /// <summary>One added member's certificate directory (the cluster's CA stays).</summary>
        public string? MemberTlsDirectory { get; set; }
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

/// <summary>What Remove-EtcdCluster removed.</summary>
public sealed class RemovedResources
{
    public List<string> Containers { get; } = [];
    public List<string> Volumes { get; } = [];
    public List<string> Networks { get; } = [];
    /// <summary>The TLS directory that was deleted, if any.</summary>
    public string? TlsDirectory { get; set; }
}

/// <summary>An IProgress that runs its callback inline, so nothing arrives after the call returns.</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
