using System.Diagnostics;
using System.Text.RegularExpressions;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>
/// Waits, briefly, until a just-started member has passed etcd's bootstrap check and started its
/// server, before the next member's container is started.
/// </summary>
/// <remarks>
/// A new etcd member first asks every peer URL whether the cluster already exists, with a 1 s
/// timeout per peer, before it starts its own server. A peer whose container has not been started
/// yet has no name on the network and fails at once; a peer whose container is being started (its
/// name already resolves, nothing answers yet) or whose etcd is itself in that check costs the full
/// second. Starting the next container right after the engine answered the previous start put
/// members in exactly that window: the first member spent 2.0 s and the second 1.3 s in the check
/// (their own logs: "advertise client URLs" to "starting member"), and the election waited for
/// them. Read from the member's log because it is the one signal every engine gives: the peer port
/// is not published and the client port answers only once the cluster has a leader.
/// </remarks>
public static partial class MemberServerStart
{
    /// <summary>Longest wait per member; past it the next member starts anyway (as before).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1.5);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    /// <summary>etcd 3.4 (capnslog and zap) and 3.5+ (zap), fresh or with existing data.</summary>
    [GeneratedRegex(@"\b(re)?starting (local )?member\b")]
    public static partial Regex ServerStartedLine();

    /// <summary>Returns how long the wait took, or null when the line did not come within <see cref="MaxWait"/>.</summary>
    public static async Task<TimeSpan?> WaitAsync(DockerAdapter docker, string container, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < MaxWait)
        {
            try
            {
                var logs = await docker.ReadLogsAsync(container, null, ct).ConfigureAwait(false);
                if (ServerStartedLine().IsMatch(logs)) return clock.Elapsed;
            }
            catch (DockerOperationException)
            {
                // The quorum wait reports a member that is gone or stopped, with its log.
                return null;
            }
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
        return null;
    }
}
