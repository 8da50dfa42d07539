namespace K3dEtcd.Model;

/// <summary>An alarm raised by an etcd member (NOSPACE: the database is over its quota; CORRUPT: data inconsistency detected).</summary>
public sealed class EtcdAlarm
{
    public string? Cluster { get; init; }
    /// <summary>ID of the member that raised it (hex).</summary>
    public string MemberId { get; init; } = "";
    public string? MemberName { get; init; }
    /// <summary>NOSPACE or CORRUPT.</summary>
    public string Alarm { get; init; } = "";

    public override string ToString() => $"{MemberName ?? MemberId}: {Alarm}";
}

/// <summary>The result of a compaction: revisions below <see cref="Revision"/> are gone.</summary>
public sealed class EtcdCompaction
{
    public string? Cluster { get; init; }
    /// <summary>The revision compacted to (the oldest revision that can still be read).</summary>
    public long Revision { get; init; }
    /// <summary>The cluster's revision when the compaction ran.</summary>
    public long CurrentRevision { get; init; }
    /// <summary>False when the key space was already compacted to that revision or later (nothing was done).</summary>
    public bool Compacted { get; init; }
    public TimeSpan Took { get; init; }

    public override string ToString() => $"compacted to {Revision} (current {CurrentRevision})";
}

/// <summary>One member's defragmentation: database size before and after.</summary>
public sealed class EtcdDefragmentation
{
    public string? Cluster { get; init; }
    public string Member { get; init; } = "";
    public string MemberId { get; init; } = "";
    public string? Endpoint { get; init; }
    /// <summary>Database file size before, bytes.</summary>
    public long DbSizeBefore { get; init; }
    /// <summary>Database file size after, bytes.</summary>
    public long DbSizeAfter { get; init; }
    /// <summary>Bytes in use after (the live data).</summary>
    public long DbSizeInUse { get; init; }
    public TimeSpan Took { get; init; }

    public override string ToString() => $"{Member}: {DbSizeBefore} -> {DbSizeAfter} bytes";
}

/// <summary>What Optimize-EtcdCluster did: compaction, defragmentation member by member, alarms cleared.</summary>
public sealed class EtcdOptimization
{
    public string? Cluster { get; init; }
    public EtcdCompaction? Compaction { get; init; }
    public EtcdDefragmentation[] Defragmentations { get; init; } = [];
    /// <summary>Alarms that were disarmed after the space was freed.</summary>
    public EtcdAlarm[] AlarmsCleared { get; init; } = [];
    /// <summary>Sum of the members' database sizes before, bytes.</summary>
    public long DbSizeBefore => Defragmentations.Sum(d => d.DbSizeBefore);
    /// <summary>Sum of the members' database sizes after, bytes.</summary>
    public long DbSizeAfter => Defragmentations.Sum(d => d.DbSizeAfter);
    public TimeSpan Took { get; init; }

    public override string ToString() => $"{Cluster}: {DbSizeBefore} -> {DbSizeAfter} bytes, {AlarmsCleared.Length} alarm(s) cleared";
}

/// <summary>One member's HashKV at a revision (Test-EtcdCluster -Consistency).</summary>
public sealed class EtcdMemberHash
{
    public string Name { get; init; } = "";
    public string Id { get; init; } = "";
    public string? Endpoint { get; init; }
    /// <summary>The revision every member was asked to hash at.</summary>
    public long Revision { get; init; }
    /// <summary>The member's HashKV hash; null when it did not answer.</summary>
    public uint? Hash { get; init; }
    /// <summary>The member's compact revision as it reported it.</summary>
    public long? CompactRevision { get; init; }
    /// <summary>True when the hash equals the majority's; false when it differs or the member did not answer.</summary>
    public bool Consistent { get; init; }
    public string? Error { get; init; }

    public override string ToString() => $"{Name}: {(Hash is { } h ? h.ToString("x8", System.Globalization.CultureInfo.InvariantCulture) : "no answer")}{(Consistent ? "" : " (inconsistent)")}";
}
