using System.Globalization;

namespace K3dEtcd.Model;

/// <summary>How bad a finding of Get-EtcdHealth is.</summary>
public enum EtcdHealthSeverity
{
    /// <summary>The rule was checked and found nothing.</summary>
    Ok = 0,
    Warning = 1,
    Critical = 2,
}

/// <summary>
/// One finding of Get-EtcdHealth (or Test-EtcdCluster -Detailed): a rule, the member it concerns
/// (null for the whole cluster), the value measured, the rule's threshold and the cmdlet that helps.
/// A rule that finds nothing gives one Ok verdict, so a script sees every rule that was checked.
/// </summary>
public sealed class EtcdHealthVerdict
{
    public EtcdHealthSeverity Severity { get; init; }
    /// <summary>The rule's name (NoLeader, MemberDown, LeaderChanges, FailedProposals, WalFsync, BackendCommit, PeerRoundTrip, DatabaseQuota, Fragmentation, MixedVersions, EndOfLife, Certificates).</summary>
    public string Rule { get; init; } = "";
    /// <summary>The member the finding is about; null when it is about the cluster as a whole.</summary>
    public string? Member { get; init; }
    /// <summary>The value measured, in <see cref="Unit"/> (null when there was nothing to measure).</summary>
    public double? Value { get; init; }
    /// <summary>The value from which the rule warns (or, for a Critical verdict, the critical one), in <see cref="Unit"/>.</summary>
    public double? Threshold { get; init; }
    /// <summary>Unit of Value and Threshold: s, %, changes, failures/s, ratio, versions, days.</summary>
    public string? Unit { get; init; }
    /// <summary>What was found, in a sentence.</summary>
    public string Message { get; init; } = "";
    /// <summary>The command that helps (for example Optimize-EtcdCluster -Cluster prod); null for an Ok verdict.</summary>
    public string? Advice { get; init; }
    /// <summary>Where the rule and its threshold come from (an alert of etcd's contrib/mixin, an etcd document).</summary>
    public string Source { get; init; } = "";
    /// <summary>The cluster name, or the endpoints, the verdict is about.</summary>
    public string? Cluster { get; init; }
    /// <summary>How long the rates and percentiles were measured over (the -Window, or the member's uptime when since start).</summary>
    public TimeSpan? MeasuredOver { get; init; }

    /// <summary>Value with its unit, for the table.</summary>
    public string ValueText => Format(Value);

    /// <summary>Threshold with its unit, for the table.</summary>
    public string ThresholdText => Threshold is null ? "" : Format(Threshold);

    private string Format(double? v)
    {
        if (v is not { } x) return "";
        var number = Math.Abs(x) >= 100 || x == Math.Floor(x) ? x.ToString("0.#", CultureInfo.InvariantCulture)
            : Math.Abs(x) >= 1 ? x.ToString("0.##", CultureInfo.InvariantCulture) : x.ToString("0.####", CultureInfo.InvariantCulture);
        return Unit switch
        {
            "s" => number + " s",
            "%" => number + " %",
            "failures/s" => number + "/s",
            "days" => number + " d",
            _ => number,
        };
    }

    public override string ToString() => $"{Severity} {Rule}{(Member is null ? "" : " " + Member)}: {Message}";
}
