namespace K3dEtcd.Model;

/// <summary>
/// The verdict of Test-EtcdSnapshot: a snapshot restored into a throwaway one-member cluster, its
/// revision and live key count read back from that cluster and compared with the snapshot's own
/// figures, the cluster removed. Expected figures come from the file (no etcd needed), actual ones
/// from the restored member (a range over the whole key space, etcdctl get "" --prefix --count-only).
/// </summary>
public sealed class EtcdSnapshotDrill
{
    /// <summary>Full path of the snapshot file tested.</summary>
    public string Path { get; init; } = "";
    /// <summary>True when the snapshot restored, the cluster started, and revision and live keys are equal to the snapshot's.</summary>
    public bool Passed { get; init; }
    /// <summary>The snapshot's revision (etcdctl snapshot status "revision"); null when the file could not be read.</summary>
    public long? ExpectedRevision { get; init; }
    /// <summary>The restored cluster's revision (the header of a range); null when it did not start.</summary>
    public long? ActualRevision { get; init; }
    /// <summary>The keys live in the snapshot at its revision: distinct keys of etcd's key bucket whose newest record is not a deletion.</summary>
    public long? ExpectedKeys { get; init; }
    /// <summary>The keys the restored cluster holds (a count-only range over the whole key space).</summary>
    public long? ActualKeys { get; init; }
    /// <summary>etcdctl snapshot status "totalKey": records in every bucket of the database (all revisions, plus membership and meta records); shown, not compared.</summary>
    public long? SnapshotTotalKeys { get; init; }
    /// <summary>The SHA-256 etcd appended to the snapshot (hex), when it could be read.</summary>
    public string? Sha256 { get; init; }
    /// <summary>The throwaway cluster's name (drill-xxxxxxxx); it is removed before the verdict is returned.</summary>
    public string Cluster { get; init; } = "";
    /// <summary>The etcd image the snapshot was restored with.</summary>
    public string Image { get; init; } = "";
    /// <summary>Verifying the file, creating the cluster, restoring the snapshot and waiting for a leader.</summary>
    public TimeSpan RestoreTime { get; init; }
    /// <summary>Reading revision and key count from the restored cluster.</summary>
    public TimeSpan CheckTime { get; init; }
    /// <summary>The whole drill, removal of the throwaway cluster included.</summary>
    public TimeSpan TotalTime { get; init; }
    /// <summary>Why the drill failed (null when it passed).</summary>
    public string? Reason { get; init; }
    /// <summary>The ErrorId of the failure that failed the drill (SnapshotTruncated, SnapshotCorrupted, SnapshotRestoreFailed, ...), or SnapshotDrillMismatch when figures differ; null when it passed.</summary>
    public string? ErrorId { get; init; }

    public override string ToString() => $"{Path}: {(Passed ? "passed" : "failed")}";
}
