namespace K3dEtcd.Model;

/// <summary>One leader kill of Measure-EtcdFailover: how long the cluster was without a leader and without writes, and what was lost.</summary>
public sealed class EtcdFailoverIteration
{
    public string Cluster { get; init; } = "";
    public int Iteration { get; init; }
    /// <summary>The member that was killed (SIGKILL) as leader.</summary>
    public string OldLeader { get; init; } = "";
    /// <summary>The member that the others elected.</summary>
    public string NewLeader { get; init; } = "";
    /// <summary>From the kill request until a remaining member reported itself leader (includes Docker's kill latency, so never flattering).</summary>
    public double ElectionMs { get; init; }
    /// <summary>From the kill request until the first acknowledgement of a write issued after the kill completed.</summary>
    public double ResumedMs { get; init; }
    /// <summary>Longest time without any acknowledged write: last acknowledgement before the kill to the first after it.</summary>
    public double UnavailableMs { get; init; }
    /// <summary>From starting the old leader again until it was healthy and caught up.</summary>
    public double RejoinMs { get; init; }
    public int WritesAcknowledged { get; init; }
    /// <summary>Writes that failed or timed out (not acknowledged, so not counted as lost).</summary>
    public int WritesFailed { get; init; }
    /// <summary>Acknowledged writes missing on at least one member; must be 0.</summary>
    public int WritesLost { get; init; }
    /// <summary>Members whose own store was read (serializable reads, one connection each) to find lost writes.</summary>
    public int MembersChecked { get; init; }
}

/// <summary>Totals of a Measure-EtcdFailover run.</summary>
public sealed class EtcdFailoverSummary
{
    public string Cluster { get; init; } = "";
    public int Iterations { get; init; }
    public double MedianElectionMs { get; init; }
    public double MaxElectionMs { get; init; }
    public double MedianUnavailableMs { get; init; }
    public double MaxUnavailableMs { get; init; }
    public double MedianResumedMs { get; init; }
    public int WritesAcknowledged { get; init; }
    public int WritesFailed { get; init; }
    /// <summary>Acknowledged writes missing on some member, over all iterations; must be 0.</summary>
    public int WritesLost { get; init; }
}
