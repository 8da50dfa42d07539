using System.Globalization;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

/// <summary>
/// Where one member lives, for every topology: on a bridge network of the session's engine
/// (reached by its container name, its client port published on the host address), or with host
/// networking at an address and ports on one of several engines (<see cref="Placement"/>).
/// </summary>
public sealed record MemberPlan(int Index, string Container, string Volume, MemberPlacement? Placement)
{
    /// <summary>The host port a bridge member's client port is published on, chosen before anything is made (null: Docker's choice).</summary>
    public int? HostPort { get; init; }

    /// <summary>The engine key of the session's engine in plans and in <see cref="MemberContainers"/>.</summary>
    public const string SessionEngine = "";

    /// <summary>The engine that holds the member (<see cref="SessionEngine"/> for a bridge-network member).</summary>
    public string Engine => Placement?.Engine ?? SessionEngine;

    public string PeerUrl(bool tls) => Placement?.PeerUrl(tls) ?? EtcdClusterSpec.PeerUrl(Container, tls);

    public static MemberPlan Bridge(string cluster, int index, string volumeSuffix = "") =>
        new(index, EtcdClusterSpec.ContainerName(cluster, index), EtcdClusterSpec.VolumeName(cluster, index) + volumeSuffix, null);

    public static MemberPlan OnHost(string cluster, MemberPlacement placement) =>
        new(placement.Index, placement.Container, EtcdClusterSpec.VolumeName(cluster, placement.Index), placement);

    /// <summary>The plan of an existing member, read back from the cluster.</summary>
    public static MemberPlan Of(EtcdCluster cluster, EtcdClusterMember member, int index) =>
        member.Engine is { } engine && member.HostAddress is { } address
            ? new(index, member.ContainerName, member.Volume, new MemberPlacement(index, member.ContainerName, engine, address, new Uri(member.NetworkClientUrl).Port, new Uri(member.PeerUrl).Port))
            : new(index, member.ContainerName, member.Volume, null);
}

/// <summary>
/// The one code path that creates, starts, recreates in place, and rolls back a member's
/// container, for every topology: New-EtcdCluster (one engine or several), Restore-EtcdSnapshot
/// and Add-EtcdMember create through it; what changes a member's image or files recreates
/// through it. Each call goes to the engine the member's plan names.
/// </summary>
public sealed class MemberContainers(DockerAdapter session, IOperationLog log)
{
    private const string HostNetwork = "host";
    private const int ClientPort = 2379;
    private const int PeerPort = 2380;
    /// <summary>The adapter of an engine (the session's for <see cref="MemberPlan.SessionEngine"/> or its own key).</summary>
    public Task<DockerAdapter> RuntimeAsync(string engine, CancellationToken ct) => session.ForEngineAsync(engine, ct);

    /// <summary>The labels every member container carries, whatever the engine and network.</summary>
    public static Dictionary<string, string> Labels(EtcdClusterSpec spec, MemberPlan plan, string memberId, string? version, string createdAt,
        IEnumerable<string> engines, IEnumerable<MemberPlacement> placements, ClusterRecord? record = null)
    {
        var labels = new Dictionary<string, string>
        {
            [Clusters.Labels.Cluster] = spec.Name,
            [Clusters.Labels.Member] = plan.Container,
            [Clusters.Labels.MemberIndex] = plan.Index.ToString(CultureInfo.InvariantCulture),
            [Clusters.Labels.MemberId] = memberId,
            [Clusters.Labels.Network] = plan.Placement is null ? spec.NetworkName : "",
            [Clusters.Labels.Token] = spec.ClusterToken,
            [Clusters.Labels.EnableV2] = spec.EnableV2 ? "true" : "false",
            [Clusters.Labels.Created] = createdAt,
            [Clusters.Labels.ModuleVersion] = typeof(MemberContainers).Assembly.GetName().Version?.ToString(3) ?? "",
        };
        if (version is not null) labels[Clusters.Labels.Version] = version;
        if (record is not null) labels[ClusterRecord.Label] = record.Serialize();
        if (spec.Tls)
        {
            labels[Clusters.Labels.Tls] = "true";
            labels[Clusters.Labels.TlsDir] = spec.TlsDirectory;
        }
        if (plan.Placement is { } p)
        {
            labels[Clusters.Labels.Engine] = p.Engine;
            labels[Clusters.Labels.Engines] = string.Join(",", engines);
            labels[Clusters.Labels.Placement] = string.Join(";", placements.Select(x => x.Serialize()));
        }
        else if (spec.ClientPort is { } first)
        {
            labels[Clusters.Labels.ClientPortBase] = first.ToString(CultureInfo.InvariantCulture);
        }
        return labels;
    }

    /// <summary>
    /// Creates one member's labelled volume and container (not started) on the engine of its plan,
    /// recording both in <paramref name="created"/> for the roll-back. Initial state "new" for the
    /// first members, "existing" for members added later.
    /// </summary>
    public async Task<string> CreateAsync(EtcdClusterSpec spec, MemberPlan plan, string initialCluster, string initialClusterState,
        IReadOnlyDictionary<string, string> labels, CreatedResources created, CancellationToken ct)
    {
        var runtime = await RuntimeAsync(plan.Engine, ct).ConfigureAwait(false);
        var on = plan.Placement is null ? "" : $" -H {plan.Engine}";
        var volumeLabels = new Dictionary<string, string> { [Clusters.Labels.Cluster] = spec.Name, [Clusters.Labels.Member] = plan.Container };
        if (labels.TryGetValue(Clusters.Labels.Engines, out var engines)) volumeLabels[Clusters.Labels.Engines] = engines;
        // So that the TLS directory is still found when no container is left.
        if (labels.TryGetValue(Clusters.Labels.TlsDir, out var tlsDir)) volumeLabels[Clusters.Labels.TlsDir] = tlsDir;
        // So that the cluster can be rebuilt in place when its containers are gone.
        if (labels.TryGetValue(ClusterRecord.Label, out var record)) volumeLabels[ClusterRecord.Label] = record;
        log.Verbose($"docker{on} volume create {plan.Volume}");
        // Recorded before the call: Ctrl+C can cancel it after the engine made the volume.
        created.Volumes.Add(plan.Volume);
        try
        {
            await runtime.CreateVolumeAsync(plan.Volume, volumeLabels, ct).ConfigureAwait(false);
        }
        catch (DockerOperationException)
        {
            // Refused: whatever has that name now is not ours.
            created.Volumes.Remove(plan.Volume);
            throw;
        }

        var command = EtcdCommandLine.Build(plan.Container, initialCluster, initialClusterState, spec, plan.Placement);
        ContainerSpec container;
        if (plan.Placement is null)
        {
            var binds = new List<string> { $"{plan.Volume}:/var/lib/etcd" };
            // Only this member's certificates and the CA certificate, read-only; the CA key stays on the host.
            if (spec.Tls) binds.Add($"{ClusterTlsStore.MemberDirectory(spec.TlsDirectory, plan.Container)}:{ClusterTlsStore.ContainerPkiDirectory}:ro");
            // A fixed host port keeps the member's client URL across stop and start (an empty one is picked anew by Docker at each start);
            // only where the engine is on this machine, because the free ports are found here.
            var port = plan.HostPort ?? (spec.ClientPort is { } p ? p + plan.Index : runtime.EngineIsLocal ? DockerAdapter.PickHostPort(spec.HostAddress, created.HostPorts) : null);
            var hostPort = port?.ToString(CultureInfo.InvariantCulture) ?? "";
            container = new ContainerSpec
            {
                Name = plan.Container,
                Hostname = plan.Container,
                Image = spec.Image,
                Command = command,
                Labels = labels,
                Network = spec.NetworkName,
                Binds = binds,
                ExposedPorts = [ClientPort, PeerPort],
                PublishedPorts = [new PortPublish(ClientPort, spec.HostAddress, hostPort)],
            };
            log.Verbose($"docker create --name {plan.Container} --network {spec.NetworkName} -p {spec.HostAddress}:{hostPort}:{ClientPort} {string.Join(' ', binds.Select(b => $"-v {b}"))} {spec.Image} {string.Join(' ', command)}");
        }
        else
        {
            container = new ContainerSpec
            {
                Name = plan.Container,
                Image = spec.Image,
                Command = command,
                Labels = labels,
                Network = HostNetwork,
                Binds = [$"{plan.Volume}:/var/lib/etcd"],
            };
            log.Verbose($"docker{on} create --name {plan.Container} --network host -v {plan.Volume}:/var/lib/etcd {spec.Image} {string.Join(' ', command)}");
        }
        // Not cancelled half way: the engine would go on making the container after a roll-back by name had found
        // nothing. Creating is quick; Ctrl+C is seen right after, with the container recorded for the roll-back.
        var id = await runtime.CreateContainerAsync(container, CancellationToken.None).ConfigureAwait(false);
        created.Containers.Add(id);
        ct.ThrowIfCancellationRequested();
        if (spec.Tls && plan.Placement is not null) await CopyCertificatesAsync(runtime, plan, id, spec.TlsDirectory, ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>
    /// A member on host networking gets its certificates copied in (docker cp): the TLS directory is
    /// on this machine and its engine may not be. On a bridge network they are bind-mounted.
    /// </summary>
    private async Task CopyCertificatesAsync(DockerAdapter runtime, MemberPlan plan, string id, string tlsDirectory, CancellationToken ct)
    {
        var source = ClusterTlsStore.MemberDirectory(tlsDirectory, plan.Container);
        var files = Directory.GetFiles(source).ToDictionary(
            f => $"{ClusterTlsStore.ContainerPkiDirectory}/{Path.GetFileName(f)}",
            f => (File.ReadAllBytes(f), f.EndsWith("-key.pem", StringComparison.Ordinal) ? UnixFileMode.UserRead | UnixFileMode.UserWrite : (UnixFileMode)0b110_100_100));
        log.Verbose($"docker -H {plan.Engine} cp {source}/. {plan.Container}:{ClusterTlsStore.ContainerPkiDirectory}");
        await runtime.CopyFilesToContainerAsync(id, files, ct).ConfigureAwait(false);
    }

    /// <summary>Starts a created member; a taken port and Docker's refusals become catalogue errors that name the member.</summary>
    public async Task StartAsync(MemberPlan plan, string id, CancellationToken ct)
    {
        var runtime = await RuntimeAsync(plan.Engine, ct).ConfigureAwait(false);
        log.Verbose($"docker{(plan.Placement is null ? "" : $" -H {plan.Engine}")} start {plan.Container}");
        try
        {
            await runtime.StartContainerAsync(id, ct).ConfigureAwait(false);
        }
        catch (DockerOperationException ex)
        {
            var where = plan.Placement is null ? "" : $" on {plan.Engine}";
            throw new K3dEtcdException(ex.IsPortConflict ? ErrorCatalog.ClientPortInUse : ErrorCatalog.MemberStartFailed,
                $"Member {plan.Container} could not start{where}: {ex.DockerMessage}", plan.Container, ex);
        }
    }

    /// <summary>The member-start gate: waits (briefly) until a started member has started its server; see <see cref="MemberServerStart"/>.</summary>
    public async Task WaitForServerStartAsync(MemberPlan plan, string id, CancellationToken ct)
    {
        var runtime = await RuntimeAsync(plan.Engine, ct).ConfigureAwait(false);
        var waited = await MemberServerStart.WaitAsync(runtime, id, ct).ConfigureAwait(false);
        log.Verbose(waited is { } w
            ? $"{plan.Container} started its server after {w.TotalMilliseconds:0} ms."
            : $"{plan.Container} did not log its server start within {MemberServerStart.MaxWait.TotalSeconds:0.#} s; starting the next member anyway.");
    }

    /// <summary>The last log lines of a member that failed (empty when there are none to read).</summary>
    public async Task<string> TailLogsAsync(MemberPlan plan, int lines)
    {
        try { return await (await RuntimeAsync(plan.Engine, CancellationToken.None).ConfigureAwait(false)).TailLogsAsync(plan.Container, lines).ConfigureAwait(false); }
        catch (K3dEtcdException) { return ""; }
    }

    /// <summary>How long a member being recreated may take to stop on SIGTERM before Docker kills it.</summary>
    public static readonly TimeSpan GracefulStop = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Recreates a member's container in place: the same name, volume, ports, network, labels,
    /// certificates and flags, with <paramref name="image"/> (or the same image) and the member's
    /// current certificate files. Its data volume is never touched. When the new container cannot
    /// be created or started, the old one is put back as it was and the error is thrown.
    /// </summary>
    /// <remarks>labels: labels to set on the new container (say, the etcd version it now runs); the others are kept.</remarks>
    /// <returns>The new container's id, started.</returns>
    public async Task<string> RecreateAsync(MemberPlan plan, string containerId, string? image, CancellationToken ct, IReadOnlyDictionary<string, string>? labels = null)
    {
        var runtime = await RuntimeAsync(plan.Engine, ct).ConfigureAwait(false);
        var old = (await runtime.InspectContainerAsync(containerId, ct).ConfigureAwait(false)).Spec;
        var merged = new Dictionary<string, string>(old.Labels);
        foreach (var (key, value) in labels ?? new Dictionary<string, string>()) merged[key] = value;
        // The record names the image a rebuild in place uses: an upgraded member records its new one.
        if (image is not null && ClusterRecord.Parse(ClusterModel.Label(old.Labels, ClusterRecord.Label)) is { } record)
        {
            merged[ClusterRecord.Label] = (record with { Image = image, Written = DateTimeOffset.UtcNow }).Serialize();
        }
        var next = old with { Image = image ?? old.Image, Labels = merged };
        var tlsDirectory = old.Labels.TryGetValue(Clusters.Labels.TlsDir, out var d) && d.Length > 0 ? d : null;
        // SIGTERM first: a leader hands leadership over before it exits (etcd's shutdown transfers
        // it), so writes in flight meet a new leader instead of an election timeout after rm -f.
        var engineFlag = plan.Placement is null ? "" : $" -H {plan.Engine}";
        log.Verbose($"docker{engineFlag} stop -t {GracefulStop.TotalSeconds:0} {plan.Container}, then rm (its volume {plan.Volume} stays)");
        // Stop and removal are bounded and never cancelled halfway (a stopped member left behind by
        // Ctrl+C would be down); a Ctrl+C from here on puts the old container back below.
        ct.ThrowIfCancellationRequested();
        try { await runtime.StopContainerAsync(containerId, GracefulStop, CancellationToken.None).ConfigureAwait(false); }
        catch (DockerOperationException ex) { log.Verbose($"docker stop {plan.Container}: {ex.DockerMessage}; removing it anyway"); }
        await runtime.RemoveContainerAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        try
        {
            return await CreateAndStartAsync(runtime, plan, next, tlsDirectory, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or DockerOperationException or OperationCanceledException)
        {
            var logs = await runtime.TailLogsAsync(plan.Container, 12).ConfigureAwait(false);
            log.Verbose($"Putting {plan.Container} back on {old.Image}: {ex.Message}");
            try { await runtime.RemoveContainerAsync(plan.Container, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException) { }
            // Put back even after Ctrl+C: never the cancelled token.
            await CreateAndStartAsync(runtime, plan, old, tlsDirectory, CancellationToken.None).ConfigureAwait(false);
            if (ex is OperationCanceledException) throw;
            var inner = ex as DockerOperationException;
            throw new K3dEtcdException(ErrorCatalog.MemberStartFailed,
                $"Member {plan.Container} could not be recreated on {next.Image}: {inner?.DockerMessage ?? ex.Message}; it runs again on {old.Image}.{(logs.Length > 0 ? $"{Environment.NewLine}Last log lines:{Environment.NewLine}{logs}" : "")}", plan.Container, ex);
        }
    }

    private async Task<string> CreateAndStartAsync(DockerAdapter runtime, MemberPlan plan, ContainerSpec spec, string? tlsDirectory, CancellationToken ct)
    {
        log.Verbose($"docker{(plan.Placement is null ? "" : $" -H {plan.Engine}")} create --name {plan.Container} {spec.Image} {string.Join(' ', spec.Command)}");
        var id = await runtime.CreateContainerAsync(spec, ct).ConfigureAwait(false);
        if (tlsDirectory is not null && plan.Placement is not null) await CopyCertificatesAsync(runtime, plan, id, tlsDirectory, ct).ConfigureAwait(false);
        await StartAsync(plan, id, ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>
    /// Creates again, as they were (and starts those that ran), member containers a rebuild removed
    /// before it failed; their volumes were never touched. Runs even after Ctrl+C; warns, never throws.
    /// </summary>
    public static async Task PutBackAsync(DockerAdapter runtime, IEnumerable<(ContainerSpec Spec, bool Running)> removed, IOperationLog log)
    {
        foreach (var (spec, running) in removed)
        {
            try
            {
                log.Verbose($"Putting {spec.Name} back as it was");
                var id = await runtime.CreateContainerAsync(spec, CancellationToken.None).ConfigureAwait(false);
                if (running) await runtime.StartContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
            }
            catch (DockerOperationException ex)
            {
                log.Warning($"Could not put member {spec.Name} back: {ex.DockerMessage}; its volume is untouched.");
            }
        }
    }

    /// <summary>The member's volumes other than <paramref name="keep"/> (its data before a rebuild), removed; warns, never throws.</summary>
    public static async Task RemoveOldVolumesAsync(DockerAdapter runtime, string cluster, string member, string keep, IOperationLog log)
    {
        foreach (var volume in await runtime.ListVolumesAsync(Clusters.Labels.ClusterFilter(cluster), CancellationToken.None).ConfigureAwait(false))
        {
            if (ClusterModel.Label(volume.Labels, Clusters.Labels.Member) != member || volume.Name == keep) continue;
            log.Verbose($"docker volume rm {volume.Name} (the old data of {member})");
            try { await runtime.RemoveVolumeAsync(volume.Name, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException ex) { log.Warning($"The old volume {volume.Name} could not be removed: {ex.DockerMessage}"); }
        }
    }

    /// <summary>Removes exactly what <paramref name="created"/> holds on <paramref name="engine"/>; warns, never throws.</summary>
    public async Task RollbackAsync(string engine, CreatedResources created)
    {
        DockerAdapter? runtime = null;
        try { runtime = await RuntimeAsync(engine, CancellationToken.None).ConfigureAwait(false); }
        catch (K3dEtcdException ex) { log.Warning($"Roll-back could not reach engine {engine}: {ex.Message}"); }
        // Roll-back must finish even when the user pressed Ctrl+C: never pass the cancelled token.
        foreach (var id in Enumerable.Reverse(created.Containers))
        {
            try { if (runtime is not null) await runtime.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException ex) when (ex.IsNotFound) { }
            catch (DockerOperationException ex) { log.Warning($"Roll-back could not remove container {id}: {ex.DockerMessage}"); }
        }
        foreach (var volume in created.Volumes)
        {
            try { if (runtime is not null) await runtime.RemoveVolumeAsync(volume, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException ex) when (ex.IsNotFound) { }
            catch (DockerOperationException ex) { log.Warning($"Roll-back could not remove volume {volume}: {ex.DockerMessage}"); }
        }
        if (created.Network is not null)
        {
            try { if (runtime is not null) await runtime.DeleteNetworkAsync(created.Network, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException ex) when (ex.IsNotFound) { }
            catch (DockerOperationException ex) { log.Warning($"Roll-back could not remove network {created.Network}: {ex.DockerMessage}"); }
        }
        foreach (var directory in new[] { created.MemberTlsDirectory, created.TlsDirectory }.OfType<string>().Where(Directory.Exists))
        {
            try { Directory.Delete(directory, recursive: true); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Roll-back could not delete {directory}: {ex.Message}"); }
        }
    }
}
