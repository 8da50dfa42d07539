namespace K3dEtcd.K3d;

/// <summary>Everything New-K3dCluster needs to create a k3d cluster on an external datastore.</summary>
public sealed record K3dClusterSpec
{
    public required string Name { get; init; }
    public required DatastoreTarget Datastore { get; init; }
    public int Servers { get; init; } = 1;
    public int Agents { get; init; }
    public IReadOnlyList<string> TlsSan { get; init; } = [];
    /// <summary>[HOST:]PORT for the Kubernetes API on the load balancer; null: k3d picks a free port.</summary>
    public string? ApiPort { get; init; }
    public string? Image { get; init; }
    public required string Token { get; init; }
    public IReadOnlyList<string> K3sArguments { get; init; } = [];
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(300);
    public bool NoKubeconfigUpdate { get; init; }
    /// <summary>The Docker network the nodes join; defaults to the datastore's.</summary>
    public string? Network { get; init; }

    public string? EffectiveNetwork => string.IsNullOrEmpty(Network) ? Datastore.Network : Network;
}
