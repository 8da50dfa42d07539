using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Browser;

/// <summary>The page's cluster panel: members, leader and follower latency, cached briefly so several tabs cost one round of probes.</summary>
internal sealed class ClusterPanelSource(EtcdConnection connection, IReadOnlyDictionary<string, string?>? hostEndpoints, ChangeFeed feed) : IDisposable
{
    private static readonly TimeSpan CacheTime = TimeSpan.FromMilliseconds(900);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTime At, byte[] Json)? _cache;

    public async Task<byte[]> JsonAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_cache is { } c && DateTime.UtcNow - c.At < CacheTime) return c.Json;
            var status = new EtcdClusterStatusService(connection);
            object payload;
            try
            {
                var members = await status.GetMembersAsync(hostEndpoints, ct).ConfigureAwait(false);
                EtcdLeaderStats? leader = null;
                string? leaderProblem = null;
                if (members.Count > 1)
                {
                    try { leader = await status.GetLeaderStatsAsync(hostEndpoints, ct).ConfigureAwait(false); }
                    catch (K3dEtcdException ex) { leaderProblem = ex.Message; }
                }
                payload = new
                {
                    at = DateTime.UtcNow,
                    watch = feed.Problem,
                    members = members.Select(m => new
                    {
                        m.Id, m.Name, m.Endpoint, m.IsLeader, m.IsLearner, m.RaftTerm, m.RaftIndex, m.DbSize, m.Version, m.Healthy, m.Error,
                    }),
                    leader = leader is null ? null : new
                    {
                        leader.LeaderName, leader.Source,
                        followers = leader.Followers.Select(f => new
                        {
                            f.Id, f.Name, f.Reachable,
                            latencyCurrentMs = f.Latency.Current * 1000, latencyAverageMs = f.Latency.Average * 1000,
                            f.Counts.Fail, f.Counts.Success,
                        }),
                    },
                    leaderProblem,
                };
            }
            catch (K3dEtcdException ex)
            {
                payload = new { at = DateTime.UtcNow, watch = feed.Problem, members = Array.Empty<object>(), error = ex.Message };
            }
            var json = JsonSerializer.SerializeToUtf8Bytes(payload, BrowserHttp.JsonOptions);
            _cache = (DateTime.UtcNow, json);
            return json;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
