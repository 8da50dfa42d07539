
namespace K3dEtcd.Clusters;

/// <summary>What an operation created so far, so a failure can remove exactly that.</summary>
public sealed class CreatedResources
{
    /// <summary>Host ports chosen so far, so two members never get the same one.</summary>
    public HashSet<int> HostPorts { get; } = [];
    public List<string> Containers { get; } = [];
    public List<string> Volumes { get; } = [];
    public string? Network { get; set; }
    /// <summary>Set before the first file is written, so a failure half-way still removes it.</summary>
    public string? TlsDirectory { get; set; }
    /// <summary>One added member's certificate directory (the cluster's CA stays).</summary>
    public string? MemberTlsDirectory { get; set; }
}

/// <summary>What Remove-EtcdCluster removed.</summary>
public sealed class RemovedResources
{
    public List<string> Containers { get; } = [];
    public List<string> Volumes { get; } = [];
    public List<string> Networks { get; } = [];
    /// <summary>The TLS directory that was deleted, if any.</summary>
    public string? TlsDirectory { get; set; }
}
