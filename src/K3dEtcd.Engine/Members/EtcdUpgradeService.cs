using System.Diagnostics;
using System.Globalization;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Members;

/// <summary>What Update-EtcdCluster is asked to do.</summary>
public sealed record EtcdUpgradeRequest
{
    public required string Cluster { get; init; }
    /// <summary>The target version in the cluster's image repository (3.5.30); or give <see cref="Image"/>.</summary>
    public string? Version { get; init; }
    /// <summary>The target image; its tag names the version unless <see cref="Version"/> is given too.</summary>
    public string? Image { get; init; }
    /// <summary>Where the snapshot taken first goes (a file, or a directory for a name made from the cluster, versions and time); null: no snapshot.</summary>
    public string? SnapshotPath { get; init; }
    public ImagePullPolicy PullPolicy { get; init; } = EtcdClusterSpec.DefaultPullPolicy();
}

/// <summary>
/// Rolling etcd upgrades: pre-flight (nothing changes when it fails), a verified snapshot, then one
/// member at a time, followers first and the leader last after leadership moved away, each
/// recreated in place on the new image through the one member path and checked (healthy, caught
/// up, on the new version, HashKV equal on every member) before the next. A member that fails a
/// check, or an upgrade stopped with Ctrl+C, puts that member back on its old image; data volumes
/// are never removed or recreated.
/// </summary>
public sealed class EtcdUpgradeService(EtcdMemberService members, IOperationLog log)
{
    private const string Running = "running";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The plan: versions, target image, order (followers first, the leader last). Changes nothing.</summary>
    public async Task<(EtcdCluster Cluster, EtcdUpgrade Plan)> PlanAsync(EtcdUpgradeRequest request, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(request.Cluster, ct).ConfigureAwait(false);
        var down = cluster.Members.Where(m => m.State != Running || m.ClientUrl is null).Select(m => $"{m.Name} ({m.State})").ToList();
        if (down.Count > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.UpgradeClusterNotReady,
                $"Member{(down.Count == 1 ? "" : "s")} {string.Join(", ", down)} of '{cluster.Name}' {(down.Count == 1 ? "is" : "are")} not running; an upgrade needs every member healthy. Start {(down.Count == 1 ? "it" : "them")} first (Start-EtcdMember -Cluster {cluster.Name} -All). Nothing was changed.", cluster.Name);
        }
        var statuses = await StatusAsync(cluster, ct).ConfigureAwait(false);
        var unhealthy = statuses.Where(s => !s.Healthy).Select(s => $"{s.Name}: {s.Error ?? "not healthy"}").ToList();
        if (unhealthy.Count > 0)
        {
            throw new K3dEtcdException(ErrorCatalog.UpgradeClusterNotReady,
                $"Cluster '{cluster.Name}' is not healthy ({string.Join("; ", unhealthy)}); nothing was changed.", cluster.Name);
        }

        var image = request.Image is { Length: > 0 } given ? given
            : request.Version is { Length: > 0 } v ? EtcdUpgradePath.ImageFor(cluster.Image, v)
            : throw new K3dEtcdException(ErrorCatalog.UpgradeVersionUnknown, "Give -Version (a version in the cluster's image repository) or -Image.", cluster.Name);
        var target = request.Version?.TrimStart('v') ?? EtcdVersion.ParseImageTag(image)
            ?? throw new K3dEtcdException(ErrorCatalog.UpgradeVersionUnknown,
                $"The tag of '{image}' does not name an etcd version; give -Version too, so the upgrade path can be checked before anything changes.", image);

        var versions = statuses.Select(s => s.Version ?? "").Distinct(StringComparer.Ordinal).ToList();
        // A second version is allowed only when it is the target: an earlier upgrade that stopped half way.
        var from = versions.Count == 1 ? versions[0]
            : versions.Count == 2 && versions.Contains(target) ? versions.First(x => x != target)
            : throw new K3dEtcdException(ErrorCatalog.UpgradeClusterNotReady,
                $"The members of '{cluster.Name}' run different etcd versions ({string.Join(", ", statuses.Select(s => $"{s.Name} {s.Version}"))}); finish the upgrade they were in first. Nothing was changed.", cluster.Name);
        EtcdUpgradePath.Check(cluster.Name, from, target, cluster.V2Enabled);

        var leaderId = statuses.FirstOrDefault(s => s.IsLeader)?.Id;
        var ordered = cluster.Members.OrderBy(m => m.Id == leaderId ? 1 : 0).ThenBy(m => m.Name, StringComparer.Ordinal).ToList();
        var plan = new EtcdUpgrade
        {
            Cluster = cluster.Name,
            FromVersion = from,
            ToVersion = target,
            Image = image,
            WhatIf = true,
            Members = [.. ordered.Select(m =>
            {
                var before = statuses.FirstOrDefault(s => s.Name == m.Name)?.Version ?? from;
                return new EtcdMemberUpgrade { Member = m.Name, VersionBefore = before, VersionAfter = target, WasLeader = m.Id == leaderId, Upgraded = before != target };
            })],
        };
        return (cluster, plan);
    }

    /// <summary>Runs a plan made by <see cref="PlanAsync"/>.</summary>
    public async Task<EtcdUpgrade> UpgradeAsync(EtcdUpgradeRequest request, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (cluster, plan) = await PlanAsync(request, ct).ConfigureAwait(false);
        var activity = $"Upgrading etcd cluster '{cluster.Name}' to {plan.ToVersion}";
        var todo = plan.Members.Where(m => m.Upgraded).ToList();
        if (todo.Count == 0)
        {
            log.Verbose($"Every member of '{cluster.Name}' runs etcd {plan.ToVersion} already.");
            return Finish(plan, null, await ClusterVersionAsync(cluster, ct).ConfigureAwait(false), [], clock.Elapsed);
        }

        // The new image on every engine that holds a member, before anything changes.
        var containers = members.Clusters.Members();
        foreach (var engine in cluster.Members.Select(m => m.Engine ?? MemberPlan.SessionEngine).Distinct(StringComparer.Ordinal))
        {
            var runtime = await containers.RuntimeAsync(engine, ct).ConfigureAwait(false);
            await members.Clusters.EnsureImageAsync(runtime, plan.Image, request.PullPolicy, ct).ConfigureAwait(false);
        }

        string? snapshot = null;
        if (request.SnapshotPath is { } path)
        {
            log.Progress(new OperationProgress(activity, "Saving a snapshot first", 2));
            var file = Directory.Exists(path)
                ? Path.Combine(path, FormattableString.Invariant($"{cluster.Name}-{plan.FromVersion}-before-{plan.ToVersion}-{DateTime.UtcNow:yyyyMMddTHHmmssZ}.db"))
                : path;
            using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, CallTimeout), log);
            snapshot = (await new EtcdSnapshotService(connection).SaveAsync(file, cluster.Name, overwrite: false, ct).ConfigureAwait(false)).Path;
            log.Verbose($"Snapshot of '{cluster.Name}' before the upgrade: {snapshot}");
        }

        var done = new List<EtcdMemberUpgrade>(plan.Members.Where(m => !m.Upgraded));
        var step = 0;
        foreach (var planned in todo)
        {
            step++;
            log.Progress(new OperationProgress(activity, $"{planned.Member} ({step}/{todo.Count}): {planned.VersionBefore} -> {plan.ToVersion}", 5 + 90 * (step - 1) / todo.Count));
            var memberClock = Stopwatch.StartNew();
            await UpgradeMemberAsync(cluster.Name, planned.Member, plan, done, ct).ConfigureAwait(false);
            done.Add(new EtcdMemberUpgrade { Member = planned.Member, VersionBefore = planned.VersionBefore, VersionAfter = plan.ToVersion, WasLeader = planned.WasLeader, Upgraded = true, Took = memberClock.Elapsed });
            log.Verbose($"{planned.Member} runs etcd {plan.ToVersion} ({memberClock.Elapsed.TotalSeconds:0.0} s).");
        }
        var after = await members.GetClusterAsync(cluster.Name, ct).ConfigureAwait(false);
        var order = plan.Members.Select(m => m.Member).ToList();
        // The leader raises the cluster version on its own once every member runs the new one (etcd checks every few seconds).
        var expected = EtcdUpgradePath.Parse(plan.ToVersion) is { } t ? $"{t.Major}.{t.Minor}.0" : null;
        var clusterVersion = await ClusterVersionAsync(after, ct).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        while (expected is not null && clusterVersion != expected && waited.Elapsed < members.Timeout)
        {
            log.Progress(new OperationProgress(activity, $"Waiting for etcd to raise the cluster version to {expected} (now {clusterVersion})", 99));
            await Task.Delay(500, ct).ConfigureAwait(false);
            clusterVersion = await ClusterVersionAsync(after, ct).ConfigureAwait(false);
        }
        if (expected is not null && clusterVersion != expected) log.Warning($"Every member runs etcd {plan.ToVersion}, but the cluster version etcd reports is still {clusterVersion}.");
        log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
        return Finish(plan, snapshot, clusterVersion, [.. done.OrderBy(d => order.IndexOf(d.Member))], clock.Elapsed);
    }

    private static EtcdUpgrade Finish(EtcdUpgrade plan, string? snapshot, string? clusterVersion, EtcdMemberUpgrade[] done, TimeSpan took) => new()
    {
        Cluster = plan.Cluster, FromVersion = plan.FromVersion, ToVersion = plan.ToVersion, Image = plan.Image, SnapshotPath = snapshot,
        Members = done.Length > 0 ? done : plan.Members, ClusterVersion = clusterVersion, WhatIf = false, Took = took,
    };

    /// <summary>One member: leadership moved away if it leads, recreated on the new image, checked; put back on its old image when a check fails or on Ctrl+C.</summary>
    private async Task UpgradeMemberAsync(string clusterName, string memberName, EtcdUpgrade plan, IReadOnlyList<EtcdMemberUpgrade> done, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var member = EtcdMemberService.ResolveMember(cluster, memberName);
        var statuses = await StatusAsync(cluster, ct).ConfigureAwait(false);
        if (statuses.FirstOrDefault(s => s.Name == memberName) is { IsLeader: true })
        {
            // Hand the lead to an upgraded member where there is one: it keeps it through the rest.
            var to = statuses.Where(s => s.Name != memberName && s.Healthy).OrderBy(s => done.Any(d => d.Member == s.Name && d.VersionAfter == plan.ToVersion) ? 0 : 1).First();
            log.Verbose($"{memberName} leads '{clusterName}': moving leadership to {to.Name} first.");
            using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, CallTimeout), log);
            await new EtcdMaintenanceService(connection, HostEndpoints(cluster), clusterName).MoveLeaderAsync(to.Name, members.Timeout, ct).ConfigureAwait(false);
        }

        var index = cluster.Members.ToList().FindIndex(m => m.Name == memberName);
        var memberPlan = MemberPlan.Of(cluster, member, index);
        var oldImage = cluster.Image;
        var containers = members.Clusters.Members();
        var fromLabels = new Dictionary<string, string> { [Labels.Version] = plan.FromVersion };
        try
        {
            // A new container that cannot be created or started is put back by the recreate itself.
            await containers.RecreateAsync(memberPlan, member.ContainerId, plan.Image, ct, new Dictionary<string, string> { [Labels.Version] = plan.ToVersion }).ConfigureAwait(false);
        }
        catch (K3dEtcdException ex) when (ex.ErrorId == ErrorCatalog.MemberStartFailed.Id)
        {
            throw await FailedAsync(clusterName, memberName, plan, ex.Message, ex).ConfigureAwait(false);
        }

        string? problem;
        try
        {
            problem = await CheckMemberAsync(clusterName, memberName, plan.ToVersion, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is K3dEtcdException or OperationCanceledException)
        {
            problem = ex is OperationCanceledException ? null : ex.Message;
            await PutBackAsync(clusterName, memberName, oldImage, fromLabels).ConfigureAwait(false);
            if (ex is OperationCanceledException) throw;
            throw await FailedAsync(clusterName, memberName, plan, problem!, ex).ConfigureAwait(false);
        }
        if (problem is not null)
        {
            await PutBackAsync(clusterName, memberName, oldImage, fromLabels).ConfigureAwait(false);
            throw await FailedAsync(clusterName, memberName, plan, problem, null).ConfigureAwait(false);
        }
    }

    /// <summary>Healthy, caught up with the leader, on the target version, and the same key space as every other member (HashKV at one revision); null when all hold.</summary>
    private async Task<string?> CheckMemberAsync(string clusterName, string memberName, string version, CancellationToken ct)
    {
        var cluster = await members.GetClusterAsync(clusterName, ct).ConfigureAwait(false);
        var member = EtcdMemberService.ResolveMember(cluster, memberName);
        await members.WaitForCaughtUpAsync(cluster, member, $"Checking {memberName} on etcd {version}", ct).ConfigureAwait(false);
        var statuses = await StatusAsync(cluster, ct).ConfigureAwait(false);
        var own = statuses.FirstOrDefault(s => s.Name == memberName);
        if (own?.Version != version) return $"{memberName} reports etcd {own?.Version ?? "nothing"}, not {version}";
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, CallTimeout), log);
        var hashes = await new EtcdMaintenanceService(connection, HostEndpoints(cluster), clusterName).HashAllAsync(ct).ConfigureAwait(false);
        var differ = hashes.Where(h => !h.Consistent).Select(h => $"{h.Name}: {h.Error}").ToList();
        return differ.Count == 0 ? null : $"the members' data differ after {memberName} was upgraded (HashKV at revision {hashes[0].Revision}: {string.Join("; ", differ)})";
    }

    /// <summary>The member on its old image and version label again, on its same volume; never the cancelled token.</summary>
    private async Task PutBackAsync(string clusterName, string memberName, string oldImage, IReadOnlyDictionary<string, string> labels)
    {
        log.Verbose($"Putting {memberName} back on {oldImage}.");
        var cluster = await members.GetClusterAsync(clusterName, CancellationToken.None).ConfigureAwait(false);
        var member = EtcdMemberService.ResolveMember(cluster, memberName);
        var index = cluster.Members.ToList().FindIndex(m => m.Name == memberName);
        await members.Clusters.Members().RecreateAsync(MemberPlan.Of(cluster, member, index), member.ContainerId, oldImage, CancellationToken.None, labels).ConfigureAwait(false);
    }

    /// <summary>UpgradeMemberFailed, saying which member failed and which members run which version now.</summary>
    private async Task<K3dEtcdException> FailedAsync(string clusterName, string memberName, EtcdUpgrade plan, string reason, Exception? inner)
    {
        string where;
        try
        {
            var cluster = await members.GetClusterAsync(clusterName, CancellationToken.None).ConfigureAwait(false);
            var statuses = await StatusAsync(cluster, CancellationToken.None).ConfigureAwait(false);
            where = string.Join(", ", statuses.Select(s => $"{s.Name} {s.Version ?? "(no answer)"}"));
        }
        catch (K3dEtcdException ex) { where = $"unknown ({ex.Message})"; }
        var message = $"Upgrading {memberName} of '{clusterName}' to etcd {plan.ToVersion} failed: {reason}. {memberName} runs its old version again; the members now run: {where}. Fix the cause and run Update-EtcdCluster again: it goes on with the members not yet upgraded.";
        return inner is null ? new K3dEtcdException(ErrorCatalog.UpgradeMemberFailed, message, memberName) : new K3dEtcdException(ErrorCatalog.UpgradeMemberFailed, message, memberName, inner);
    }

    private async Task<IReadOnlyList<EtcdMemberStatus>> StatusAsync(EtcdCluster cluster, CancellationToken ct)
    {
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, CallTimeout), log);
        return await new EtcdClusterStatusService(connection).GetMembersAsync(HostEndpoints(cluster), ct).ConfigureAwait(false);
    }

    /// <summary>The cluster version etcd reports on /version (etcdcluster), from the first member that answers.</summary>
    private async Task<string?> ClusterVersionAsync(EtcdCluster cluster, CancellationToken ct)
    {
        using var connection = EtcdConnection.Open(EtcdConnectionOptions.FromCluster(cluster, CallTimeout), log);
        foreach (var url in cluster.Endpoints)
        {
            try
            {
                using var response = await connection.Http.GetAsync($"{url.TrimEnd('/')}/version", ct).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode) continue;
                using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                if (doc.RootElement.TryGetProperty("etcdcluster", out var v)) return v.GetString();
            }
            catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                log.Verbose($"/version on {url}: {ex.Message}");
            }
        }
        return null;
    }

    private static Dictionary<string, string?> HostEndpoints(EtcdCluster cluster) =>
        cluster.Members.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First().ClientUrl, StringComparer.Ordinal);
}
