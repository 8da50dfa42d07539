namespace K3dEtcd.Model;

/// <summary>
/// The fdatasync latency of one member's data volume, as Measure-EtcdDisk measured it: fio writing
/// blocks of <see cref="BlockSize"/> bytes sequentially, each followed by fdatasync (etcd's own WAL
/// pattern), in a scratch directory of the volume, from a short-lived container on the member's engine.
/// </summary>
public sealed class EtcdDiskMeasurement
{
    /// <summary>etcd's guidance: the 99th percentile of WAL fdatasync under 10 ms (etcd.io, op-guide "Hardware", Disks).</summary>
    public const double GuidanceMilliseconds = 10;
    /// <summary>At and above this p99 the verdict is Critical: etcd's own alert rules (contrib/mixin) warn on WAL fsync p99 over 0.5 s.</summary>
    public const double CriticalMilliseconds = 500;

    public string Cluster { get; init; } = "";
    public string Member { get; init; } = "";
    public string Volume { get; init; } = "";
    /// <summary>The Docker engine (key) the member and the probe ran on; null for the session's engine.</summary>
    public string? Engine { get; init; }
    /// <summary>How many write+fdatasync pairs were timed.</summary>
    public long Writes { get; init; }
    public int BlockSize { get; init; }
    public double MinMs { get; init; }
    public double MeanMs { get; init; }
    public double P50Ms { get; init; }
    public double P99Ms { get; init; }
    public double MaxMs { get; init; }
    /// <summary>Ok (p99 under 10 ms), Warning (10 ms up to 500 ms) or Critical (500 ms or more).</summary>
    public string Verdict { get; init; } = "";
    public double ThresholdMs { get; init; } = GuidanceMilliseconds;
    public string Advice { get; init; } = "";
    /// <summary>Wall time of the probe container's run.</summary>
    public TimeSpan Elapsed { get; init; }
    public string ProbeImage { get; init; } = "";
    /// <summary>The write IOPS limit put on the probe container (-ThrottleWriteIops), or null.</summary>
    public int? ThrottledWriteIops { get; init; }

    public static string VerdictFor(double p99Ms) =>
        p99Ms < GuidanceMilliseconds ? "Ok" : p99Ms < CriticalMilliseconds ? "Warning" : "Critical";
}
