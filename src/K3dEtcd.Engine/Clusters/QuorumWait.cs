using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>
/// Waits until every member of a starting cluster is healthy and they agree on one leader, and
/// fails early when a member's container exits (its log then explains why).
/// </summary>
public sealed class QuorumWait(DockerAdapter docker, IOperationLog log)
{
    public async Task WaitAsync(EtcdCluster cluster, TimeSpan timeout, string activity, CancellationToken ct)
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
        var firstAnswer = false;
        try
        {
            while (true)
            {
                foreach (var member in members)
                {
                    var state = await (await docker.ForEngineAsync(member.Engine, deadline.Token).ConfigureAwait(false)).InspectContainerAsync(member.ContainerId, deadline.Token).ConfigureAwait(false);
                    if (!state.Running)
                    {
                        throw new K3dEtcdException(ErrorCatalog.MemberExited,
                            $"Member {member.Name} stopped while the cluster was starting (exit code {state.ExitCode}).", member.ContainerName);
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
                if (!firstAnswer && healthyCount > 0)
                {
                    firstAnswer = true;
                    log.Phase($"first health answer ({healthyCount}/{members.Length} members healthy)");
                }
                var leaders = checks.Where(c => c.Leader is not null).Select(c => c.Leader!).ToHashSet();
                var hasOneLeader = leaders.Count == 1 && leaders.First() != "0";
                log.Progress(new OperationProgress(activity,
                    healthyCount < members.Length ? $"Members healthy: {healthyCount}/{members.Length}" : hasOneLeader ? "Leader elected" : "Waiting for a leader",
                    50 + 50 * healthyCount / (members.Length + 1)));
                if (healthyCount == members.Length && hasOneLeader)
                {
                    log.Phase($"every member healthy, leader {leaders.First()} agreed");
                    return;
                }
                attemptTimeout = TimeSpan.FromMilliseconds(Math.Min(3000, attemptTimeout.TotalMilliseconds * 1.25));
                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(ErrorCatalog.ClusterStartTimeout,
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
            throw new K3dEtcdException(ErrorCatalog.TlsMaterialInvalid,
                $"The TLS material of cluster '{cluster.Name}' in {tls.Directory} could not be loaded: {ex.Message}", tls.Directory, ex);
        }
    }
}
