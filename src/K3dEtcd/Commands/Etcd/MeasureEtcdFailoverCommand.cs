using K3dEtcd.Services;
using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Members;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Kills the leader of an etcd cluster while writing, N times: election time, write outage, and acknowledged writes lost (must be 0).</para>
/// <para type="description">Each iteration writes sequenced keys with four writers, kills the leader (SIGKILL), times until a remaining
/// member reports itself leader and until a write issued after the kill is acknowledged, starts the old leader and waits until it
/// caught up, then reads every member's own store (serializable reads, one connection per member) to check that every acknowledged
/// write is there. Writes one EtcdFailoverIteration per iteration, then an EtcdFailoverSummary. The keys written are removed at the
/// end. The cluster needs three or more running members.</para>
/// </summary>
/// <example>
/// <code>Measure-EtcdFailover -Cluster $c -Iterations 5</code>
/// <para>Kills the leader five times; shows each iteration's election time, write outage and lost writes, then the summary.</para>
/// </example>
/// <example>
/// <code>Measure-EtcdFailover -Cluster etcd -Iterations 3 | Select-Object -Last 1 | Format-List</code>
/// <para>Shows only the summary: median and maximum election time and write outage, writes acknowledged and lost.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Measure, "EtcdFailover", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdFailoverIteration), typeof(EtcdFailoverSummary))]
public sealed class MeasureEtcdFailoverCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name. It needs 3 or more running members.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>How many times to kill the leader.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int Iterations { get; set; } = 3;

    /// <summary>Deadline of each write in milliseconds; a write that exceeds it counts as failed, not acknowledged.</summary>
    [Parameter]
    [ValidateRange(100, 60000)]
    public int WriteTimeoutMilliseconds { get; set; } = 1000;

    /// <summary>How long each wait (election, writes resuming, the old leader rejoining) may take, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var options = new EtcdFailoverOptions
        {
            Iterations = Iterations,
            WriteTimeout = TimeSpan.FromMilliseconds(WriteTimeoutMilliseconds),
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
        };
        if (!ShouldProcess($"etcd cluster '{Cluster.Name}'", $"Kill the leader {Iterations} time(s) while writing")) return;
        var service = EtcdServices.Failover(await GetDockerAsync(ct), Log);
        var runs = new List<EtcdFailoverIteration>();
        try
        {
            await foreach (var run in service.RunAsync(Cluster.Name, options, ct))
            {
                runs.Add(run);
                WriteObject(run);
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
        if (runs.Count > 0) WriteObject(EtcdFailoverService.Summarize(Cluster.Name, runs));
    }
}
