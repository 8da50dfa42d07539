using System.Globalization;
using Etcdserverpb;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Clusters;
using K3dEtcd.Docker;

namespace K3dEtcd.Members;

/// <summary>Growing and shrinking a cluster: etcd's membership API first, then the containers.</summary>
public sealed partial class EtcdMemberService
{
    /// <summary>How often a learner's promotion is tried again while it catches up.</summary>
    public static readonly TimeSpan PromoteRetry = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Adds the next member: `member add` (as a learner, then promoted, where etcd supports
    /// learners), then a labelled container started with --initial-cluster-state existing.
    /// Anything done is undone when a later step fails.
    /// </summary>
    public Task<EtcdClusterMember> AddMemberAsync(string clusterName, CancellationToken ct) => AddMemberAsync(clusterName, null, ct);

    /// <remarks>slot: the place of a member being repaired (its index, host port and a new volume's suffix); null: the next index.</remarks>
    private async Task<EtcdClusterMember> AddMemberAsync(string clusterName, MemberSlot? slot, CancellationToken ct)
    {
        var cluster = await GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        if (cluster.Members.All(m => m.State != Running))
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterNotRunning,
                $"No member of cluster '{cluster.Name}' is running, so none can accept a new member; nothing was changed. Start the cluster first (Start-EtcdMember -Cluster {cluster.Name} -All).", cluster.Name);
        }
        if (cluster.Members.Where(m => m.State != Running).Select(m => m.Name).ToList() is { Count: > 0 } stopped)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdClusterDegraded,
                $"Member{(stopped.Count == 1 ? "" : "s")} {string.Join(", ", stopped)} of '{cluster.Name}' {(stopped.Count == 1 ? "is" : "are")} not running; etcd refuses membership changes until every member is connected. Nothing was changed; start {(stopped.Count == 1 ? "it" : "them")} (Start-EtcdMember) or remove {(stopped.Count == 1 ? "it" : "them")} (Remove-EtcdMember) first.", cluster.Name);
        }
        if (cluster.Size >= EtcdClusterSpec.MaxSize)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterSizeLimit,
                $"Cluster '{cluster.Name}' already has {cluster.Size} members, the most this module runs.", cluster.Name);
        }
        var leader = await FindLeaderAsync(cluster, ct).ConfigureAwait(false);

        var index = slot?.Index ?? cluster.Members.Select(m => MemberIndex(cluster.Name, m.Name)).Max() + 1;
        var container = EtcdClusterSpec.ContainerName(cluster.Name, index);
        var spec = await SpecFromMemberAsync(cluster, leader, ct).ConfigureAwait(false);
        // A cluster on several engines: the next engine round-robin, host networking on its address.
        var plan = cluster.Engines.Length > 0
            ? MemberPlan.OnHost(cluster.Name, EtcdClusterService.PlaceAddedMember(cluster, index))
            : MemberPlan.Bridge(cluster.Name, index, slot?.VolumeSuffix ?? "") with
            {
                // Chosen now so that the record on the new member's labels names it.
                HostPort = slot?.HostPort ?? (spec.ClientPort is { } first ? first + index : _docker.EngineIsLocal ? DockerAdapter.PickHostPort(spec.HostAddress, new HashSet<int>()) : null),
            };
        var record = plan.Placement is not null ? null : ClusterRecord.Of(spec, version: cluster.Version, cluster.Members
            .Select(m => new RecordedMember(m.ContainerName, MemberIndex(cluster.Name, m.Name), m.ClientUrl is { } u ? new Uri(u).Port : null))
            .Append(new RecordedMember(container, index, plan.HostPort)));
        var peerUrl = plan.PeerUrl(spec.Tls);
        if (plan.Placement is null) await EnsureFreeAsync(container, plan.Volume, ct).ConfigureAwait(false);
        var members = _clusters.Members();

        var activity = $"Adding etcd member {container} to '{cluster.Name}'";
        // The version of the member whose container the new one copies (its image): mid-upgrade, members differ.
        var version = leader.Version ?? cluster.Version;
        var useLearner = SupportsLearners(version);
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(10)), _log);
        if (spec.Tls) ClusterTlsStore.EnsureNoRotation(spec.TlsDirectory, cluster.Name);
        var created = new CreatedResources();
        ulong? addedId = null;
        try
        {
            _log.Progress(new OperationProgress(activity, useLearner ? "member add --learner" : "member add", 10));
            _log.Verbose($"etcd: member add {container} --peer-urls={peerUrl}{(useLearner ? " --learner" : "")}");
            var added = await MemberAddAsync(connection, peerUrl, useLearner, container, activity, ct).ConfigureAwait(false);
            addedId = added.Member.ID;
            var hexId = EtcdMemberIdentity.ToHex(added.Member.ID);

            // etcd checks that --initial-cluster names exactly the members it has, by peer URL.
            var names = cluster.Members.ToDictionary(m => m.PeerUrl, m => m.Name, StringComparer.Ordinal);
            var initialCluster = string.Join(",", added.Members.SelectMany(m => m.PeerURLs.Select(u =>
                $"{(m.ID == added.Member.ID ? container : !string.IsNullOrEmpty(m.Name) ? m.Name : names.GetValueOrDefault(u, EtcdMemberIdentity.ToHex(m.ID)))}={u}")));

            // A repaired member keeps the certificates it had (the same name and URLs); they are not this call's to remove.
            if (spec.Tls && !(slot is not null && Directory.Exists(ClusterTlsStore.MemberDirectory(spec.TlsDirectory, container))))
            {
                ClusterTlsStore.AddMember(spec.TlsDirectory, leader.ContainerName, container, _log);
                created.MemberTlsDirectory = ClusterTlsStore.MemberDirectory(spec.TlsDirectory, container);
            }
            _log.Progress(new OperationProgress(activity, $"Creating container {container}", 30));
            var createdAt = cluster.Created is { } c ? new DateTimeOffset(c, TimeSpan.Zero).ToString("o", CultureInfo.InvariantCulture) : DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture);
            // A member on several engines names every placement, the older members' and its own.
            var placements = cluster.Members.Select((m, i) => MemberPlan.Of(cluster, m, i).Placement).OfType<MemberPlacement>().Append(plan.Placement).OfType<MemberPlacement>();
            var labels = MemberContainers.Labels(spec, plan, hexId, version, createdAt, cluster.Engines, placements, record);
            var id = await members.CreateAsync(spec, plan, initialCluster, "existing", labels, created, ct).ConfigureAwait(false);
            await members.StartAsync(plan, id, ct).ConfigureAwait(false);

            var withNew = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
            var member = ResolveMember(withNew, container);
            if (useLearner)
            {
                await WaitForCaughtUpAsync(withNew, member, activity, ct, requireHealth: false).ConfigureAwait(false);
                await PromoteAsync(connection, added.Member.ID, container, activity, ct).ConfigureAwait(false);
            }
            await WaitForCaughtUpAsync(withNew, member, activity, ct).ConfigureAwait(false);
            _log.Progress(new OperationProgress(activity, "Joined", 100, Completed: true));
            return ResolveMember(await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false), container);
        }
        catch (Exception ex) when (ex is K3dEtcdException or DockerOperationException or OperationCanceledException)
        {
            var logs = created.Containers.Count > 0 ? await members.TailLogsAsync(plan, 12).ConfigureAwait(false) : "";
            if (addedId is { } undo)
            {
                _log.Verbose($"etcd: member remove {EtcdMemberIdentity.ToHex(undo)} (roll-back)");
                try
                {
                    await connection.CallAsync("member remove", o => connection.Grpc.ClusterClient.MemberRemoveAsync(new MemberRemoveRequest { ID = undo }, o),
                        CancellationToken.None, container).ConfigureAwait(false);
                }
                catch (K3dEtcdException rex) { _log.Warning($"Roll-back could not remove member {container} from etcd: {rex.Message}"); }
            }
            await members.RollbackAsync(plan.Engine, created).ConfigureAwait(false);
            if (ex is DockerOperationException dex)
            {
                throw new K3dEtcdException(ErrorCatalog.DockerOperationFailed, $"Docker refused an operation while adding {container}: {dex.DockerMessage}", container, dex);
            }
            if (ex is K3dEtcdException kex && logs.Length > 0)
            {
                throw new K3dEtcdException(kex, $"{kex.Message}{Environment.NewLine}Last log lines of {container}:{Environment.NewLine}{logs}");
            }
            throw;
        }
    }

    /// <summary>Where a repaired member goes back: its index, its host port, the suffix of its fresh volume.</summary>
    private sealed record MemberSlot(int Index, int? HostPort, string VolumeSuffix);

    private Task<MemberAddResponse> MemberAddAsync(EtcdConnection connection, string peerUrl, bool learner, string container, string activity, CancellationToken ct) =>
        ReconfigureAsync(connection, "member add", o => connection.Grpc.ClusterClient.MemberAddAsync(new MemberAddRequest { PeerURLs = { peerUrl }, IsLearner = learner }, o),
            container, activity, ct);

    /// <summary>
    /// A membership change, retried while etcd answers "unhealthy cluster": its strict
    /// reconfiguration check wants the members connected for the last 5 s, which a just
    /// (re)started member is not yet.
    /// </summary>
    private async Task<T> ReconfigureAsync<T>(EtcdConnection connection, string operation, Func<Grpc.Core.CallOptions, Grpc.Core.AsyncUnaryCall<T>> call,
        string target, string activity, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        while (true)
        {
            try
            {
                return await connection.CallAsync(operation, call, deadline.Token, target, null, mapDeadline: true).ConfigureAwait(false);
            }
            catch (K3dEtcdException ex) when (ex.Message.Contains("unhealthy cluster", StringComparison.OrdinalIgnoreCase) && !deadline.IsCancellationRequested)
            {
                _log.Progress(new OperationProgress(activity, $"etcd wants every member connected for 5 s before {operation}; waiting", 5));
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new K3dEtcdException(ErrorCatalog.MembershipChangeRefused,
                    $"etcd kept refusing {operation} for {target} for {Timeout.TotalSeconds:0} s (unhealthy cluster: not every member has been connected to the leader for the last 5 s). Nothing was changed.", target);
            }
            try { await Task.Delay(PromoteRetry, deadline.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
    }

    private async Task PromoteAsync(EtcdConnection connection, ulong id, string container, string activity, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        while (true)
        {
            _log.Verbose($"etcd: member promote {EtcdMemberIdentity.ToHex(id)}");
            try
            {
                await connection.CallAsync("member promote", o => connection.Grpc.ClusterClient.MemberPromoteAsync(new MemberPromoteRequest { ID = id }, o), deadline.Token, container).ConfigureAwait(false);
                return;
            }
            catch (K3dEtcdException ex) when (ex.Message.Contains("in sync", StringComparison.OrdinalIgnoreCase) || ex.Kind == FailureKind.InvalidOperation)
            {
                // "can only promote a learner member which is in sync with leader": not yet.
                _log.Progress(new OperationProgress(activity, "Waiting for the learner to catch up before promotion", 60));
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                break;
            }
            try { await Task.Delay(PromoteRetry, deadline.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; }
        }
        throw new K3dEtcdException(ErrorCatalog.MemberPromoteTimeout,
            $"Learner {container} was not in sync with the leader within {Timeout.TotalSeconds:0} s, so it could not be promoted.", container);
    }

    /// <summary>Refuses removals that would leave no member or no quorum (unless forced); the member must exist.</summary>
    public static void EnsureRemovable(EtcdCluster cluster, EtcdClusterMember member)
    {
        if (cluster.Size == 1)
        {
            throw new K3dEtcdException(ErrorCatalog.LastMember,
                $"{member.Name} is the last member of '{cluster.Name}'; removing it removes the cluster's data. Nothing was changed; use -Force, or Remove-EtcdCluster.", member.Name);
        }
        var runningAfter = cluster.Members.Count(m => m.State == Running && m.Name != member.Name);
        var quorum = Quorum(cluster.Size - 1);
        if (runningAfter < quorum)
        {
            throw new K3dEtcdException(ErrorCatalog.QuorumLoss,
                $"Removing {member.Name} would leave {runningAfter} running of {cluster.Size - 1} members of '{cluster.Name}'; etcd needs {quorum} for a quorum. Nothing was changed; start the stopped members first, or use -Force.", member.Name);
        }
    }

    /// <summary>Removes a member from etcd (member remove), then its container and its volume.</summary>
    public async Task RemoveMemberAsync(string clusterName, string memberName, CancellationToken ct)
    {
        var cluster = await GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var member = Reachable(ResolveMember(cluster, memberName));
        var activity = $"Removing etcd member {member.Name} from '{cluster.Name}'";
        if (cluster.Size == 1)
        {
            // etcd cannot remove its only member; what is left to remove is the cluster itself.
            _log.Verbose($"{member.Name} is the last member: removing cluster '{cluster.Name}'.");
            await _clusters.RemoveAsync(cluster.Name, keepData: false, ct).ConfigureAwait(false);
            return;
        }

        var others = cluster.Members.Where(m => m.Name != member.Name && m.State == Running && m.ClientUrl is not null).ToList();
        var ask = others.Count > 0 ? others : cluster.Members.Where(m => m.State == Running && m.ClientUrl is not null).ToList();
        if (ask.Count == 0)
        {
            _log.Warning($"No member of '{cluster.Name}' is running, so {member.Name} cannot be removed from etcd's member list; only its container and volume are removed.");
        }
        else
        {
            var options = EtcdConnectionOptions.FromCluster(cluster, TimeSpan.FromSeconds(10)) is var o ? new EtcdConnectionOptions
            {
                Endpoints = ask.Select(m => m.ClientUrl!).ToArray(), CaFile = o.CaFile, CertFile = o.CertFile, KeyFile = o.KeyFile, Timeout = o.Timeout,
            } : null!;
            using var connection = EtcdConnection.Open(options, _log);
            _log.Progress(new OperationProgress(activity, "member remove", 20));
            var list = await connection.CallAsync("member list", x => connection.Grpc.ClusterClient.MemberListAsync(new MemberListRequest(), x), ct, null, null, mapDeadline: true).ConfigureAwait(false);
            var known = list.Members.FirstOrDefault(m => EtcdMemberIdentity.ToHex(m.ID) == member.Id || m.PeerURLs.Contains(member.PeerUrl));
            if (known is null)
            {
                _log.Verbose($"etcd does not list {member.Name}; removing only its container and volume.");
            }
            else
            {
                _log.Verbose($"etcd: member remove {EtcdMemberIdentity.ToHex(known.ID)} ({member.Name})");
                await ReconfigureAsync(connection, "member remove", x => connection.Grpc.ClusterClient.MemberRemoveAsync(new MemberRemoveRequest { ID = known.ID }, x), member.Name, activity, ct).ConfigureAwait(false);
            }
        }

        _log.Progress(new OperationProgress(activity, "Removing the container and its volume", 60));
        _log.Verbose($"docker rm -f {member.ContainerName}");
        await (await On(member, ct).ConfigureAwait(false)).RemoveContainerAsync(member.ContainerId, ct).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(member.Volume))
        {
            _log.Verbose($"docker volume rm {member.Volume}");
            await (await On(member, ct).ConfigureAwait(false)).RemoveVolumeAsync(member.Volume, ct).ConfigureAwait(false);
        }
        // A removed member's certificates go with it; a member with its name added later gets new ones.
        if (cluster.Tls is { Directory.Length: > 0 } tls && Directory.Exists(ClusterTlsStore.MemberDirectory(tls.Directory, member.ContainerName)))
        {
            _log.Verbose($"Deleting the certificates of {member.ContainerName}");
            Directory.Delete(ClusterTlsStore.MemberDirectory(tls.Directory, member.ContainerName), recursive: true);
        }

        var after = await GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var running = after.Members.Where(m => m.State == Running && m.ClientUrl is not null).ToList();
        if (running.Count >= Quorum(after.Size))
        {
            _ = await WaitForLeaderAsync(after, running, member.Id, Timeout, activity, ct).ConfigureAwait(false)
                ?? throw new K3dEtcdException(ErrorCatalog.EtcdNoLeader,
                    $"After {member.Name} was removed, '{cluster.Name}' had no leader within {Timeout.TotalSeconds:0} s.", cluster.Name);
        }
        _log.Progress(new OperationProgress(activity, "Removed", 100, Completed: true));
    }

    /// <summary>Learners exist from etcd 3.4; an unknown version is tried as 3.4+.</summary>
    public static bool SupportsLearners(string? version) =>
        version is null || !System.Version.TryParse(version.Split('-', '+')[0], out var v) || v.Major > 3 || (v.Major == 3 && v.Minor >= 4);

    private static int MemberIndex(string cluster, string member) =>
        member.StartsWith(cluster, StringComparison.Ordinal) && int.TryParse(member.AsSpan(cluster.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1;

    private async Task EnsureFreeAsync(string container, string volume, CancellationToken ct)
    {
        if ((await _docker.ContainerNamesAsync(ct).ConfigureAwait(false)).Contains(container))
        {
            throw new K3dEtcdException(ErrorCatalog.ContainerNameInUse, $"A container named '{container}' already exists; nothing was changed.", container);
        }
        if ((await _docker.VolumeNamesAsync(ct).ConfigureAwait(false)).Contains(volume))
        {
            throw new K3dEtcdException(ErrorCatalog.VolumeNameInUse,
                $"A volume named '{volume}' already exists (left by an earlier member?); remove it with 'docker volume rm {volume}'. Nothing was changed.", volume);
        }
    }

    // Flags EtcdCommandLine.Build sets per member; everything else on a member's command line was the user's -ExtraArgument.
    private static readonly HashSet<string> MemberFlags = new(StringComparer.Ordinal)
    {
        "--name", "--data-dir", "--listen-client-urls", "--advertise-client-urls", "--listen-peer-urls",
        "--initial-advertise-peer-urls", "--initial-cluster", "--initial-cluster-token", "--initial-cluster-state",
        "--trusted-ca-file", "--cert-file", "--key-file", "--peer-trusted-ca-file", "--peer-cert-file", "--peer-key-file",
    };

    // Switches EtcdCommandLine.Build adds (TLS, -EnableV2); they take no value.
    private static readonly HashSet<string> MemberSwitches = new(StringComparer.Ordinal) { "--client-cert-auth", "--peer-client-cert-auth", "--enable-v2=true" };

    /// <summary>The creation spec of a cluster, read back from one of its member containers.</summary>
    internal async Task<EtcdClusterSpec> SpecFromMemberAsync(EtcdCluster cluster, EtcdClusterMember member, CancellationToken ct)
    {
        var inspect = await (await On(member, ct).ConfigureAwait(false)).InspectContainerAsync(member.ContainerId, ct).ConfigureAwait(false);
        var labels = inspect.Spec.Labels;
        var binding = inspect.Spec.PublishedPorts.FirstOrDefault(p => p.ContainerPort == 2379);
        // Only a cluster created with -ClientPort numbers its ports; otherwise the new member gets a free one.
        int? basePort = labels.TryGetValue(Labels.ClientPortBase, out var first) && int.TryParse(first, CultureInfo.InvariantCulture, out var port) && port > 0
            ? port : null;
        var extra = new List<string>();
        var cmd = inspect.Spec.Command;
        for (var i = 1; i < cmd.Count; i++)
        {
            if (MemberFlags.Contains(cmd[i])) { i++; continue; }
            if (MemberSwitches.Contains(cmd[i])) continue;
            // Anything naming the source member (its own certificate files, say) is not the new member's.
            if (cmd[i].Contains(member.ContainerName, StringComparison.Ordinal)) continue;
            extra.Add(cmd[i]);
        }
        return new EtcdClusterSpec
        {
            Name = cluster.Name,
            Size = cluster.Size + 1,
            Image = inspect.Spec.Image,
            Network = labels.TryGetValue(Labels.Network, out var n) ? n : cluster.Network,
            HostAddress = string.IsNullOrEmpty(binding?.HostAddress) ? "127.0.0.1" : binding.HostAddress,
            ClientPort = basePort,
            ClusterToken = labels.TryGetValue(Labels.Token, out var t) ? t : cluster.ClusterToken,
            EnableV2 = labels.TryGetValue(Labels.EnableV2, out var v2) && v2 == "true",
            ExtraArguments = extra,
            Timeout = Timeout,
            PullPolicy = ImagePullPolicy.Never,
            Tls = labels.TryGetValue(Labels.Tls, out var tls) && tls == "true",
            // The label holds <root>/<cluster>; the spec rebuilds that path from its root.
            TlsRoot = labels.TryGetValue(Labels.TlsDir, out var dir) && dir.Length > 0 ? Path.GetDirectoryName(dir.TrimEnd('/', '\\')) : null,
        };
    }
}
