namespace K3dEtcd.Model;

/// <summary>One member of a rolling upgrade: the etcd version it ran before and runs now.</summary>
public sealed class EtcdMemberUpgrade
{
    public string Member { get; init; } = "";
    public string VersionBefore { get; init; } = "";
    public string VersionAfter { get; init; } = "";
    /// <summary>True when it was the leader at the start (it is upgraded last, after leadership moved away).</summary>
    public bool WasLeader { get; init; }
    /// <summary>False when it already ran the target version (a resumed upgrade) and was left as it was.</summary>
    public bool Upgraded { get; init; }
    /// <summary>From the container's removal to the member healthy, caught up and hash-checked.</summary>
    public TimeSpan Took { get; init; }

    public override string ToString() => $"{Member}: {VersionBefore} -> {VersionAfter}";
}

/// <summary>The result (or, with -WhatIf, the plan) of Update-EtcdCluster: what runs where, the snapshot taken first, the cluster version etcd reports.</summary>
public sealed class EtcdUpgrade
{
    public string Cluster { get; init; } = "";
    public string FromVersion { get; init; } = "";
    public string ToVersion { get; init; } = "";
    public string Image { get; init; } = "";
    /// <summary>The verified snapshot taken before the first member changed (null with -SkipSnapshot or -WhatIf).</summary>
    public string? SnapshotPath { get; init; }
    /// <summary>The members in the order they are upgraded: followers first, the leader last.</summary>
    public EtcdMemberUpgrade[] Members { get; init; } = [];
    /// <summary>The cluster version etcd reports afterwards (/version etcdcluster: the lowest member's minor, as 3.5.0).</summary>
    public string? ClusterVersion { get; init; }
    /// <summary>True for the plan -WhatIf shows: nothing was changed.</summary>
    public bool WhatIf { get; init; }
    public TimeSpan Took { get; init; }

    public override string ToString() => $"{Cluster}: {FromVersion} -> {ToVersion}";
}
