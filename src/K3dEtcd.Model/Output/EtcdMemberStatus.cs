namespace K3dEtcd.Model;

/// <summary>One etcd member as etcd itself reports it (member list plus the member's own status).</summary>
public sealed class EtcdMemberStatus
{
    /// <summary>Member ID in lower-case hex, as etcdctl prints it.</summary>
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string[] PeerUrls { get; init; } = [];
    /// <summary>Client URLs the member advertises (on a K3dEtcd cluster: the in-network URLs).</summary>
    public string[] ClientUrls { get; init; } = [];
    /// <summary>The URL this command used to ask the member; null when none was reachable from here.</summary>
    public string? Endpoint { get; init; }
    public bool IsLeader { get; init; }
    public bool IsLearner { get; init; }
    public long? RaftTerm { get; init; }
    public long? RaftIndex { get; init; }
    /// <summary>Backend database size in bytes.</summary>
    public long? DbSize { get; init; }
    /// <summary>Bytes of the backend database in use (the rest is free pages that defragmentation returns); etcd 3.4+.</summary>
    public long? DbSizeInUse { get; init; }
    /// <summary>The raft index the member has applied to its key space (trails RaftIndex while it catches up).</summary>
    public long? RaftAppliedIndex { get; init; }
    /// <summary>Alarms this member has raised (NOSPACE, CORRUPT); empty when none.</summary>
    public string[] Alarms { get; init; } = [];
    /// <summary>etcd server version.</summary>
    public string? Version { get; init; }
    /// <summary>Leader ID this member follows (hex); null when unknown.</summary>
    public string? LeaderId { get; init; }
    /// <summary>Answered its status, knows a leader and has no alarm.</summary>
    public bool Healthy { get; init; }
    /// <summary>Why the member is not healthy; null when it is.</summary>
    public string? Error { get; init; }

    public override string ToString() => Name;
}

/// <summary>Health of one member, from Test-EtcdCluster.</summary>
public sealed class EtcdHealth
{
    public string Name { get; init; } = "";
    public string Id { get; init; } = "";
    public string? Endpoint { get; init; }
    public bool Healthy { get; init; }
    public bool IsLeader { get; init; }
    /// <summary>Round trip of the health read (a linearizable get, as etcdctl endpoint health does).</summary>
    public TimeSpan? Took { get; init; }
    public string? Error { get; init; }

    public override string ToString() => $"{Name}: {(Healthy ? "healthy" : "unhealthy")}";
}

/// <summary>Leader statistics in the classic /v2/stats/leader shape.</summary>
public sealed class EtcdLeaderStats
{
    /// <summary>Leader member ID (hex).</summary>
    public string LeaderId { get; init; } = "";
    public string? LeaderName { get; init; }
    /// <summary>The leader's client URL used for the statistics.</summary>
    public string? Endpoint { get; init; }
    public long? RaftTerm { get; init; }
    public EtcdFollowerStats[] Followers { get; init; } = [];
    /// <summary>"v2" (the leader served /v2/stats/leader) or "metrics" (v3 status plus the leader's Prometheus /metrics).</summary>
    public string Source { get; init; } = "";

    public override string ToString() => $"{LeaderName ?? LeaderId} ({Source})";
}

/// <summary>What the leader knows about one follower.</summary>
public sealed class EtcdFollowerStats
{
    public string Id { get; init; } = "";
    public string? Name { get; init; }
    public EtcdLatency Latency { get; init; } = new();
    public EtcdFollowerCounts Counts { get; init; } = new();
    /// <summary>Whether this command could reach the follower itself just now; null when not checked.</summary>
    public bool? Reachable { get; init; }

    public override string ToString() => Name ?? Id;
}

/// <summary>Latency of the leader's messages to a follower, in seconds; null where the source cannot know.</summary>
public sealed class EtcdLatency
{
    public double? Current { get; init; }
    public double? Average { get; init; }
    public double? StandardDeviation { get; init; }
    public double? Minimum { get; init; }
    public double? Maximum { get; init; }
    /// <summary>Number of round trips the average is made of (metrics source only).</summary>
    public long? Samples { get; init; }

    public override string ToString() => Average is { } a ? $"{a * 1000:0.###} ms avg" : "unknown";
}

/// <summary>Messages the leader sent to a follower: failed and successful; null where the source cannot know.</summary>
public sealed class EtcdFollowerCounts
{
    public long? Fail { get; init; }
    public long? Success { get; init; }

    public override string ToString() => $"fail {Fail?.ToString() ?? "?"}, success {Success?.ToString() ?? "?"}";
}
