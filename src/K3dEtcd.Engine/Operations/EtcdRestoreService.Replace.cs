using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Operations;

/// <summary>
/// What a rebuild in place will do, worked out before anything changes: the spec of the members to
/// make again (from the newest record left on the cluster's containers, volumes or network, with
/// the host ports the surviving containers publish) and what of the old cluster is there.
/// </summary>
public sealed record ReplacePlan(EtcdClusterSpec Spec, IReadOnlyList<ContainerInfo> OldContainers, IReadOnlyList<string> OldVolumes, IReadOnlyList<string> Networks)
{
    public string Describe() =>
        $"{Spec.Size} members {string.Join(", ", Spec.Indexes.Select(i => EtcdClusterSpec.ContainerName(Spec.Name, i)))}" +
        $" (image {Spec.Image}{(Spec.Tls ? $", TLS with the CA in {Spec.TlsDirectory}" : "")}), replacing " +
        (OldContainers.Count == 0 ? "no container (none is left)" : $"container{(OldContainers.Count == 1 ? "" : "s")} {string.Join(", ", OldContainers.Select(c => c.Name))}") +
        (OldVolumes.Count == 0 ? "" : $"; old volume{(OldVolumes.Count == 1 ? "" : "s")} {string.Join(", ", OldVolumes)} kept until the new members are healthy");
}

// Restore-EtcdSnapshot -Replace: the same cluster again from a snapshot, with its names, URLs,
// host ports, network and CA, so that k3s servers holding the old endpoint list, CA file and
// client certificate go on using it.
public sealed partial class EtcdRestoreService
{
    /// <summary>Reads what is left of <paramref name="name"/> into the plan of its rebuild; changes nothing.</summary>
    public async Task<ReplacePlan> PlanReplaceAsync(string name, TimeSpan timeout, CancellationToken ct)
    {
        EtcdClusterService.ValidateName(name);
        var filter = Labels.ClusterFilter(name);
        var containers = (await adapter.ListContainersAsync(filter, ct).ConfigureAwait(false)).Where(c => c.Labels.ContainsKey(Labels.Member)).ToList();
        var volumes = await adapter.ListVolumesAsync(filter, ct).ConfigureAwait(false);
        var networks = await adapter.ListNetworksAsync(filter, ct).ConfigureAwait(false);
        if (containers.Any(c => c.Labels.ContainsKey(Labels.Engine)))
        {
            throw new K3dEtcdException(ErrorCatalog.RestoreNeedsLocalEngine,
                $"Cluster '{name}' runs on several Docker engines; -Replace rebuilds clusters on the session's engine only. Restore into a new cluster (-Name) and move the k3s servers to it.", name);
        }
        var record = ClusterRecord.Newest(containers.Select(c => (IReadOnlyDictionary<string, string>?)c.Labels)
            .Concat(volumes.Select(v => v.Labels)).Concat(networks.Select(n => n.Labels)));
        if (record is null)
        {
            var parts = await clusters.FindPartsAsync(name, ct).ConfigureAwait(false);
            if (parts.Count == 0) throw await clusters.NotFoundAsync(name, ct).ConfigureAwait(false);
            throw new K3dEtcdException(ErrorCatalog.ReplaceWithoutRecord,
                $"What is left of cluster '{name}' ({string.Join("; ", parts[0].Describe())}) holds no record of its members and options: it was made by an older K3dEtcd. Restore the snapshot into a new cluster instead (Restore-EtcdSnapshot PATH -Name NEW).", name);
        }
        // A surviving container knows its own port for certain; the record knows the others'.
        var ports = new Dictionary<int, int>(record.Members.Where(m => m.HostPort is not null).ToDictionary(m => m.Index, m => m.HostPort!.Value));
        var members = record.Members.ToDictionary(m => m.Index);
        foreach (var c in containers)
        {
            if (!int.TryParse(ClusterModel.Label(c.Labels, Labels.MemberIndex), out var index)) continue;
            var spec = (await adapter.InspectContainerAsync(c.Id, ct).ConfigureAwait(false)).Spec;
            if (spec.PublishedPorts.FirstOrDefault(p => p.ContainerPort == 2379) is { } published && int.TryParse(published.HostPort, out var port) && port > 0) ports[index] = port;
            members.TryAdd(index, new RecordedMember(c.Labels[Labels.Member], index, null));
        }
        // A member upgraded in place runs a newer image than the record it was made with: keep the newest one running.
        var image = containers.Select(c => (c.Image, Version: ClusterModel.Label(c.Labels, Labels.Version)))
            .OrderByDescending(x => System.Version.TryParse(x.Version?.Split('-', '+')[0], out var v) ? v : new Version(0, 0))
            .Select(x => x.Image).FirstOrDefault() ?? record.Image;
        var rebuilt = (record with { Members = [.. members.Values.OrderBy(m => m.Index)], Image = image }).ToSpec(name) with
        {
            InPlace = true,
            HostPorts = ports,
            // New volumes beside the old ones: a failed or cancelled rebuild leaves the old data as it was.
            VolumeSuffix = "-r" + DateTime.UtcNow.ToString("yyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture),
            Timeout = timeout,
        };
        if (rebuilt.Tls && !File.Exists(Path.Combine(rebuilt.TlsDirectory, ClusterTlsStore.CaFileName)))
        {
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialFailed,
                $"Cluster '{name}' used TLS, but its CA is no longer in {rebuilt.TlsDirectory}; without it the rebuilt members could not be trusted by its k3s servers. Restore into a new cluster instead (-Name, -Tls).", rebuilt.TlsDirectory);
        }
        return new ReplacePlan(rebuilt, containers, [.. volumes.Select(v => v.Name)], [.. networks.Select(n => n.Name)]);
    }

    /// <summary>
    /// Rebuilds the cluster of <paramref name="plan"/> from a snapshot: the old member containers
    /// are removed, new ones with the same names, URLs, host ports, network, certificates and
    /// options are made on new volumes that get the snapshot's data, and once they are healthy the
    /// old volumes are removed (kept with <paramref name="keepData"/>). A failure or Ctrl+C removes
    /// what the rebuild made and puts the old containers back on their untouched volumes.
    /// </summary>
    public async Task<EtcdCluster> ReplaceAsync(string snapshotPath, ReplacePlan plan, bool keepData, CancellationToken ct)
    {
        snapshotPath = Path.GetFullPath(snapshotPath);
        if (!adapter.EngineIsLocal)
        {
            throw new K3dEtcdException(ErrorCatalog.RestoreNeedsLocalEngine, "Restore-EtcdSnapshot bind-mounts the snapshot into the restore containers, so it needs a Docker engine on this machine.", snapshotPath);
        }
        var info = EtcdSnapshotService.Inspect(snapshotPath, log, ct);
        log.Verbose($"Snapshot {snapshotPath}: revision {info.Revision}, {info.TotalKeys} records, sha256 {info.Sha256}.");
        var spec = EtcdClusterService.Check(plan.Spec with { BeforeStart = (seed, c) => RestoreVolumesAsync(seed, snapshotPath, c) });

        var old = new List<(ContainerSpec Spec, bool Running)>();
        foreach (var c in plan.OldContainers)
        {
            old.Add(((await adapter.InspectContainerAsync(c.Id, ct).ConfigureAwait(false)).Spec, c.State == "running"));
        }
        var removed = new List<(ContainerSpec Spec, bool Running)>();
        EtcdCluster cluster;
        try
        {
            foreach (var (spec0, running) in old)
            {
                log.Verbose($"docker rm -f {spec0.Name} (its volume stays until the rebuilt cluster is healthy)");
                await adapter.RemoveContainerAsync(spec0.Name!, ct).ConfigureAwait(false);
                removed.Add((spec0, running));
            }
            log.Phase("old member containers removed");
            cluster = await clusters.CreateAsync(spec, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or DockerOperationException or OperationCanceledException)
        {
            // The create rolled back what it made; the old members come back on their own volumes, even after Ctrl+C.
            await MemberContainers.PutBackAsync(adapter, removed, log).ConfigureAwait(false);
            throw;
        }
        var newVolumes = cluster.Members.Select(m => m.Volume).ToHashSet(StringComparer.Ordinal);
        foreach (var volume in plan.OldVolumes.Where(v => !newVolumes.Contains(v)))
        {
            if (keepData)
            {
                log.Verbose($"Keeping the old volume {volume} (-KeepData); Remove-EtcdCluster removes it with the cluster.");
                continue;
            }
            log.Verbose($"docker volume rm {volume}");
            try { await adapter.RemoveVolumeAsync(volume, CancellationToken.None).ConfigureAwait(false); }
            catch (DockerOperationException ex) { log.Warning($"The old volume {volume} could not be removed: {ex.DockerMessage}"); }
        }
        return cluster;
    }
}
