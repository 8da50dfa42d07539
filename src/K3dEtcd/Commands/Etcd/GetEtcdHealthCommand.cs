using System.Management.Automation;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Judges an etcd cluster by etcd's own alert rules: one verdict per finding (severity, rule, member, value, threshold and the cmdlet that helps), and an Ok verdict for every rule that found nothing.</para>
/// <para type="description">Reads every member's status and Prometheus /metrics and applies the alerts of etcd's contrib/mixin with their thresholds: no leader; a member down or unreachable; 4 or more leader changes in 15 minutes; failed proposals over 5 per second; WAL fsync p99 over 0.5 s (warning) or 1 s (critical); backend commit p99 over 0.25 s; peer round-trip p99 over 0.15 s; database over 80 % (warning) or 95 % (critical) of the quota, or a NOSPACE alarm; fragmentation (under 50 % of a database over 100 MiB in use); members on different versions; an etcd version past its end of life (before 3.5); certificates that expire within 30 days. Without -Window, counters and histograms are judged since each member started (its process_start_time_seconds); with -Window the metrics are read twice, that long apart, and rates and percentiles come from the difference (the percentile is interpolated inside its histogram bucket as Prometheus' histogram_quantile does). Nothing is changed. A member that cannot be reached is a MemberDown verdict, not an error.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdHealth prod</code>
/// <para>Shows every rule's verdict for the cluster prod, judged on the counters since each member started.</para>
/// </example>
/// <example>
/// <code>Get-EtcdHealth -Cluster prod -Window 00:05:00</code>
/// <para>Measures rates and p99 latencies over the next five minutes (two samples of every member's /metrics, with progress while it waits).</para>
/// </example>
/// <example>
/// <code>Get-EtcdHealth prod | Where-Object Severity -eq Critical | ForEach-Object Advice</code>
/// <para>Lists what to run for each critical finding, for example 'Optimize-EtcdCluster -Cluster prod'.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdHealth", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdHealthVerdict))]
public sealed class GetEtcdHealthCommand : EtcdDataCmdlet
{
    /// <summary>The etcd cluster to judge: an object from New-EtcdCluster or Get-EtcdCluster (also from the pipeline), or its name (first position).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ClusterSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public override EtcdCluster? Cluster { get => base.Cluster; set => base.Cluster = value; }

    /// <summary>Measure rates and percentiles over this window (two samples of /metrics, 1 second to 1 hour). Omitted: since each member started.</summary>
    [Parameter]
    public TimeSpan? Window { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var connection = await GetConnectionAsync(ct);
        WriteObject(await EvaluateAsync(this, connection, Window, ct), enumerateCollection: true);
    }

    /// <summary>The verdicts for the current target (shared with Test-EtcdCluster -Detailed).</summary>
    internal static Task<IReadOnlyList<EtcdHealthVerdict>> EvaluateAsync(EtcdDataCmdlet cmdlet, EtcdConnection connection, TimeSpan? window, CancellationToken ct) =>
        new EtcdHealthService(connection).EvaluateAsync(cmdlet.HostEndpointsForHealth, cmdlet.HealthTarget, window, ct);
}
