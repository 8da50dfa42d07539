// Long because: creating a cluster is one transaction (checks, network, volumes, members, seeding, start, quorum) whose steps share one record of what was created, for the roll-back.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
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

    /// <summary>The Docker adapter this service works through (members reuse it).</summary>
    public DockerAdapter Docker => docker;

    /// <summary>The one path that creates, starts, recreates and rolls back member containers on this service's engines.</summary>
    public MemberContainers Members() => new(docker, log);

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

    /// <summary>
    /// Creates a cluster on the session's engine (a bridge network) or on several engines (host
    /// networking, -DockerHost), through one path: every member is planned, created, started and
    /// rolled back by <see cref="MemberContainers"/>.
    /// </summary>
    public Task<EtcdCluster> CreateAsync(EtcdClusterSpec spec, CancellationToken ct) => CreateAsync(Check(spec), ct);

    private async Task<EtcdCluster> CreateCheckedAsync(EtcdClusterSpec spec, CancellationToken ct)
    {
        var onEngines = spec.DockerHosts.Count > 0;
        if (onEngines && !string.IsNullOrEmpty(spec.Network))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidEnginePlacement,
                "-Network does not apply with -DockerHost: members on several engines use each host's network and reach each other by address.", spec.Network);
        }
        if (onEngines && spec.BeforeStart is not null)
        {
            // Seeding bind-mounts files of this machine into the volumes, which engines elsewhere cannot see.
            throw new K3dEtcdException(ErrorCatalog.RestoreNeedsLocalEngine, "A snapshot is restored into a cluster on the session's engine; restore it there, then add members elsewhere.", spec.Name);
        }
        if (spec.Size % 2 == 0)
        {
            log.Warning($"A cluster of {spec.Size} members tolerates no more failures than one of {spec.Size - 1}; an odd size is usually better.");
        }
        if (!onEngines && spec.HostAddress is "0.0.0.0" or "::")
        {
            log.Warning($"Client ports will be published on {spec.HostAddress}: every host that can reach this machine can reach etcd.");
        }

        var placements = onEngines ? EnginePlacement.Plan(spec) : [];
        var plans = onEngines
            ? placements.Select(p => MemberPlan.OnHost(spec.Name, p)).ToArray()
            : spec.Indexes.Select(i => MemberPlan.Bridge(spec.Name, i, spec.VolumeSuffix)).ToArray();
        var engineKeys = plans.Select(p => p.Engine).Distinct(StringComparer.Ordinal).ToArray();
        var activity = onEngines ? $"Creating etcd cluster '{spec.Name}' on {engineKeys.Length} Docker engines" : $"Creating etcd cluster '{spec.Name}'";
        var progress = new ProgressSteps(log, activity, totalSteps: engineKeys.Length + (spec.Tls ? 1 : 0) + (onEngines ? 0 : 1) + spec.Size * 2);
        var members = new MemberContainers(docker, log);

        // A version readable from the tag is checked before anything touches Docker; every engine
        // must answer and be free of the name before anything is created anywhere.
        var version = EtcdVersion.ParseImageTag(spec.Image);
        EnsureV2Supported(spec, version);
        // A rebuild in place makes its members among the cluster's own parts (the caller has moved the old containers aside).
        if (!spec.InPlace) await EnsureNoLeftoversAsync(spec, ct).ConfigureAwait(false);
        foreach (var engine in engineKeys)
        {
            progress.Step(onEngines ? $"Checking engine {engine}" : "Checking the image");
            var runtime = await members.RuntimeAsync(engine, ct).ConfigureAwait(false);
            if (!spec.InPlace) await EnsureNameIsFreeAsync(runtime, spec, ct).ConfigureAwait(false);
            await EnsureImageAsync(runtime, spec.Image, spec.PullPolicy, ct).ConfigureAwait(false);
        }
        log.Phase("names checked (containers, volumes, network, TLS directory)");
        if (spec.Tls && !spec.InPlace && (Directory.Exists(spec.TlsDirectory) || File.Exists(spec.TlsDirectory)))
        {
            throw ClusterTlsStore.TlsDirectoryExists(spec.TlsDirectory, spec.Name);
        }
        version ??= await DetectVersionAsync(await members.RuntimeAsync(engineKeys[0], ct).ConfigureAwait(false), spec.Image, ct).ConfigureAwait(false);
        EnsureV2Supported(spec, version);
        log.Phase($"image checked (etcd {version ?? "version unknown"})");
        if (!onEngines)
        {
            // Every host port is chosen before anything is made, so each member's labels (and the
            // network's and volumes') can record all of them for a rebuild in place.
            var taken = new HashSet<int>();
            plans = [.. plans.Select(p => p with
            {
                HostPort = spec.HostPorts is { } kept && kept.TryGetValue(p.Index, out var k) ? k
                    : spec.ClientPort is { } first ? first + p.Index
                    : docker.EngineIsLocal ? DockerAdapter.PickHostPort(spec.HostAddress, taken) : null,
            })];
        }
        var record = onEngines ? null : ClusterRecord.Of(spec, version, plans.Select(p => new RecordedMember(p.Container, p.Index, p.HostPort)));

        var created = engineKeys.ToDictionary(e => e, _ => new CreatedResources(), StringComparer.Ordinal);
        var tls = new CreatedResources();
        try
        {
            var containers = plans.Select(p => p.Container).ToArray();
            if (spec.Tls && spec.InPlace)
            {
                // Rebuilt in place: the CA and every member's certificates stay as they are (the k3s servers trust that CA).
                foreach (var plan in plans.Where(p => !Directory.Exists(ClusterTlsStore.MemberDirectory(spec.TlsDirectory, p.Container))))
                {
                    throw new K3dEtcdException(ErrorCatalog.TlsMaterialFailed,
                        $"The certificates of member {plan.Container} are not in {spec.TlsDirectory}; a cluster is rebuilt in place only with the certificates it had.", spec.TlsDirectory);
                }
            }
            else if (spec.Tls)
            {
                progress.Step("Creating the CA and certificates");
                // Peers on several hosts connect from their host's address, and on one machine from loopback: etcd checks the peer certificate against it.
                var addresses = placements.Select(p => p.Address).Distinct(StringComparer.Ordinal).ToArray();
                // Create removes what it wrote if it fails; from here on the roll-back owns the directory.
                ClusterTlsStore.Create(spec.TlsDirectory, spec.Name, containers, [.. ClusterTlsStore.ServerSans(spec.HostAddress, spec.TlsSans), .. addresses], spec.CertificateValidityDays, log,
                    peerSans: onEngines ? [.. addresses, "127.0.0.1"] : null);
                tls.TlsDirectory = spec.TlsDirectory;
                log.Phase("TLS material written");
            }

            if (!onEngines)
            {
                progress.Step($"Creating network {spec.NetworkName}");
                await EnsureNetworkAsync(spec, created[MemberPlan.SessionEngine], record, ct).ConfigureAwait(false);
                log.Phase("network ready");
            }

            var peerUrls = plans.Select(p => p.PeerUrl(spec.Tls)).ToArray();
            var initialCluster = string.Join(",", plans.Select(p => $"{p.Container}={p.PeerUrl(spec.Tls)}"));
            var createdAt = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);
            var engineList = engineKeys.Where(e => e.Length > 0).ToArray();
            var ids = new string[plans.Length];
            foreach (var (plan, n) in plans.Select((p, n) => (p, n)))
            {
                progress.Step($"Creating member {plan.Container}{(onEngines ? $" on {plan.Engine}" : "")} ({n + 1}/{spec.Size})");
                var memberId = EtcdMemberIdentity.ToHex(EtcdMemberIdentity.Compute([plan.PeerUrl(spec.Tls)], spec.ClusterToken));
                var labels = MemberContainers.Labels(spec, plan, memberId, version, createdAt, engineList, placements, record);
                ids[n] = await members.CreateAsync(spec, plan, initialCluster, "new", labels, created[plan.Engine], ct).ConfigureAwait(false);
            }
            log.Phase($"{spec.Size} volumes and containers created");

            if (spec.BeforeStart is { } seed)
            {
                await seed(new EtcdClusterSeed(spec, version, containers, [.. plans.Select(p => p.Volume)], peerUrls, initialCluster), ct).ConfigureAwait(false);
            }

            // One after the other, each once the previous one has started its server. Side by side,
            // or each right after the engine's answer, members sat in etcd's bootstrap check for up
            // to 1 s per peer that was still starting (see MemberServerStart; bench/RESULTS.md).
            foreach (var (plan, n) in plans.Select((p, n) => (p, n)))
            {
                if (n > 0) await members.WaitForServerStartAsync(plans[n - 1], ids[n - 1], ct).ConfigureAwait(false);
                progress.Step($"Starting member {plan.Container}{(onEngines ? $" on {plan.Engine}" : "")} ({n + 1}/{spec.Size})");
                await members.StartAsync(plan, ids[n], ct).ConfigureAwait(false);
            }
            log.Phase($"{spec.Size} members started");

            var cluster = await GetOnEnginesAsync(spec.Name, engineList, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.ClusterVanished, $"The containers of cluster '{spec.Name}' disappeared while it was being created.", spec.Name);
            await new QuorumWait(docker, log).WaitAsync(cluster, spec.Timeout, activity, ct).ConfigureAwait(false);
            progress.Complete();
            var readBack = await GetOnEnginesAsync(spec.Name, engineList, ct).ConfigureAwait(false) ?? cluster;
            log.Phase("cluster read back");
            return readBack;
        }
        catch (Exception ex)
        {
            progress.Complete();
            var failed = ex is K3dEtcdException { Target: string member } ? plans.FirstOrDefault(p => p.Container == member) : null;
            var detail = failed is not null && created[failed.Engine].Containers.Count > 0 ? await members.TailLogsAsync(failed, 15).ConfigureAwait(false) : null;
            foreach (var (engine, resources) in created)
            {
                log.Verbose($"Rolling back cluster '{spec.Name}'{(engine.Length > 0 ? $" on {engine}" : "")}: {resources.Containers.Count} containers, {resources.Volumes.Count} volumes, {(resources.Network is null ? "no" : "1")} network{(tls.TlsDirectory is null ? "" : ", the TLS directory")}");
                await members.RollbackAsync(engine, resources).ConfigureAwait(false);
            }
            await members.RollbackAsync(MemberPlan.SessionEngine, tls).ConfigureAwait(false);
            if (ex is K3dEtcdException kex && detail is { Length: > 0 })
            {
                throw new K3dEtcdException(kex, $"{kex.Message}{Environment.NewLine}Last log lines of {kex.Target}:{Environment.NewLine}{detail}");
            }
            if (ex is IOException or UnauthorizedAccessException)
            {
                throw new K3dEtcdException(ErrorCatalog.TlsMaterialFailed,
                    $"The TLS material of cluster '{spec.Name}' could not be written to {spec.TlsDirectory}: {ex.Message}", spec.TlsDirectory, ex);
            }
            if (ex is DockerOperationException dex)
            {
                throw new K3dEtcdException(ErrorCatalog.DockerOperationFailed, $"Docker refused an operation while creating cluster '{spec.Name}': {dex.DockerMessage}", spec.Name, dex);
            }
            throw;
        }
    }

    private static void EnsureV2Supported(EtcdClusterSpec spec, string? version)
    {
        if (spec.EnableV2 && !EtcdVersion.SupportsV2(version))
        {
            throw new K3dEtcdException(ErrorCatalog.EnableV2NotSupported,
                $"-EnableV2 needs etcd 3.4 or 3.5; image '{spec.Image}' is etcd {version}, which removed the v2 API and the --enable-v2 flag. Leader statistics work without it (from the v3 API and /metrics).", spec.Image);
        }
    }

    private static async Task EnsureNameIsFreeAsync(DockerAdapter runtime, EtcdClusterSpec spec, CancellationToken ct)
    {
        var existing = await runtime.ListContainersAsync(Labels.ClusterFilter(spec.Name), ct).ConfigureAwait(false);
        if (existing.Count > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterExists,
                $"An etcd cluster named '{spec.Name}' already exists. Remove it first (Remove-EtcdCluster {spec.Name}) or choose another name.", spec.Name);
        }
        var names = await runtime.ContainerNamesAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < spec.Size; i++)
        {
            var container = EtcdClusterSpec.ContainerName(spec.Name, i);
            if (names.Contains(container))
            {
                throw new K3dEtcdException(ErrorCatalog.ContainerNameInUse,
                    $"A container named '{container}' already exists and is not part of an etcd cluster made by K3dEtcd; choose another cluster name.", container);
            }
        }
        var volumeNames = await runtime.VolumeNamesAsync(ct).ConfigureAwait(false);
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

    internal async Task EnsureImageAsync(DockerAdapter runtime, string image, ImagePullPolicy policy, CancellationToken ct)
    {
        if (await runtime.ImageExistsAsync(image, ct).ConfigureAwait(false)) return;

        if (policy == ImagePullPolicy.Never)
        {
            throw new K3dEtcdException(ErrorCatalog.ImageNotFound,
                $"The etcd image '{image}' is not present and pulling is disabled ({EtcdClusterSpec.PullPolicyEnvironmentVariable}=Never). Pull or build it first (docker pull {image}), or pass another -Image.", image);
        }

        log.Verbose($"docker pull {image}");
        try
        {
            await runtime.PullImageAsync(image, $"Pulling {image}", ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerOperationException or HttpRequestException or IOException)
        {
            throw new K3dEtcdException(ErrorCatalog.ImagePullFailed,
                $"The etcd image '{image}' is not present locally and could not be pulled: {(ex is DockerOperationException d ? d.DockerMessage : ex.Message)}. Pull or load it yourself (docker pull / docker load), pass another -Image, or set {EtcdClusterSpec.ImageEnvironmentVariable}.", image, ex);
        }
    }

    /// <summary>Runs `etcd --version` in a throwaway container when the tag does not tell.</summary>
    private async Task<string?> DetectVersionAsync(DockerAdapter runtime, string image, CancellationToken ct)
    {
        log.Verbose($"docker run --rm {image} /usr/local/bin/etcd --version");
        try
        {
            var (_, output) = await runtime.RunToCompletionAsync(new ContainerSpec
            {
                Image = image,
                Command = ["/usr/local/bin/etcd", "--version"],
                Labels = new Dictionary<string, string> { [Labels.Prefix + "probe"] = "version" },
                Network = "none",
            }, TimeSpan.FromSeconds(20), ct).ConfigureAwait(false);
            return EtcdVersion.ParseVersionOutput(output);
        }
        catch (DockerOperationException ex)
        {
            log.Verbose($"Could not detect the etcd version of '{image}': {ex.DockerMessage}");
            return null;
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            // Our own 20 s wait ran out (not Ctrl+C): say which container did not answer.
            throw new K3dEtcdException(ErrorCatalog.ImageVersionProbeTimeout,
                $"`etcd --version` in a throwaway container of image '{image}' did not finish within 20 s; the image may not hold /usr/local/bin/etcd. An image tag that names the version (for example :3.5.16) skips the check.", image, ex);
        }
    }

    private async Task EnsureNetworkAsync(EtcdClusterSpec spec, CreatedResources created, ClusterRecord? record, CancellationToken ct)
    {
        var networks = await docker.ListNetworksAsync(null, ct).ConfigureAwait(false);
        var existing = networks.FirstOrDefault(n => n.Name == spec.NetworkName);
        if (existing is not null)
        {
            if (spec.InPlace)
            {
                log.Verbose($"Using the cluster's network {spec.NetworkName} as it is");
                return;
            }
            if (string.IsNullOrEmpty(spec.Network))
            {
                throw new K3dEtcdException(ErrorCatalog.NetworkNameInUse,
                    $"A Docker network named '{spec.NetworkName}' already exists; remove it or pass -Network to join it deliberately.", spec.NetworkName);
            }
            log.Verbose($"Joining the existing network {spec.NetworkName} (it is not removed with the cluster)");
            return;
        }
        log.Verbose($"docker network create {spec.NetworkName}");
        // Recorded by name before the call: Ctrl+C can cancel it after the engine made the network.
        created.Network = spec.NetworkName;
        try
        {
            var labels = new Dictionary<string, string> { [Labels.Cluster] = spec.Name };
            if (spec.Tls) labels[Labels.TlsDir] = spec.TlsDirectory;
            if (record is not null) labels[ClusterRecord.Label] = record.Serialize();
            created.Network = await docker.CreateNetworkAsync(spec.NetworkName, labels, ct).ConfigureAwait(false);
        }
        catch (DockerOperationException)
        {
            // Refused: whatever has that name now is not ours.
            created.Network = null;
            throw;
        }
    }

    // ---------------------------------------------------------------- read

    public async Task<IReadOnlyList<EtcdCluster>> ListAsync(CancellationToken ct)
    {
        var containers = await docker.ListContainersAsync(Labels.ClusterFilter(null), ct).ConfigureAwait(false);
        var (all, unreachable) = await AcrossEnginesAsync(containers, null, ct).ConfigureAwait(false);
        var running = all
            .Where(c => c.Labels.ContainsKey(Labels.Member))
            .GroupBy(c => c.Labels[Labels.Cluster], StringComparer.Ordinal)
            .Select(g => ClusterModel.ToCluster(g.Key, g.ToList(), unreachable))
            .ToList();
        var broken = new List<EtcdCluster>();
        foreach (var parts in (await FindPartsAsync(null, ct).ConfigureAwait(false)).Where(p => running.All(c => c.Name != p.Name)))
        {
            // No member here, but maybe on the other engines its volumes here name.
            broken.Add(parts.Volumes.Count > 0 && await GetAsync(parts.Name, ct).ConfigureAwait(false) is { } elsewhere ? elsewhere : Broken(parts));
        }
        return [.. running.Concat(broken).OrderBy(c => c.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The one way a cluster given by name becomes a cluster: read from its containers' labels
    /// (Docker is the only store), or EtcdClusterNotFound. Cmdlets, the member service and the
    /// k3d datastore resolution all come here; <see cref="GetAsync"/> is the same read for callers
    /// that treat a missing cluster as an answer (completers, Get-EtcdCluster).
    /// </summary>
    public async Task<EtcdCluster> ResolveAsync(string name, CancellationToken ct) =>
        await GetAsync(name, ct).ConfigureAwait(false) ?? throw await NotFoundAsync(name, ct).ConfigureAwait(false);

    public static K3dEtcdException NotFound(string name) =>
        new(ErrorCatalog.EtcdClusterNotFound, $"No etcd cluster named '{name}' was found (clusters are found by the Docker label io.k3detcd.cluster).", name);

    public async Task<EtcdCluster?> GetAsync(string name, CancellationToken ct) =>
        await GetOnEnginesAsync(name, [], ct).ConfigureAwait(false)
        ?? (await EnginesNamedHereAsync(name, ct).ConfigureAwait(false) is { Count: > 0 } engines ? await GetOnEnginesAsync(name, engines, ct).ConfigureAwait(false) : null);

    /// <summary>
    /// The engines a multi-engine cluster's volumes on this engine name: its members elsewhere are
    /// still found when none of its containers is left here.
    /// </summary>
    private async Task<IReadOnlyList<string>> EnginesNamedHereAsync(string name, CancellationToken ct) =>
        [.. (await docker.ListVolumesAsync(Labels.ClusterFilter(name), ct).ConfigureAwait(false))
            .SelectMany(v => (ClusterModel.Label(v.Labels, Labels.Engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)];

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

