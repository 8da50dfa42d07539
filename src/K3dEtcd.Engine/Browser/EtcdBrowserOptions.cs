
namespace K3dEtcd.Browser;

/// <summary>What to serve and how.</summary>
public sealed class EtcdBrowserOptions
{
    /// <summary>Shown on the page and in Get-EtcdBrowser: the cluster name or the endpoints.</summary>
    public string ClusterName { get; init; } = "";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    public bool AllowWrite { get; init; }
    /// <summary>Member name → client URL this host reaches it at (see <see cref="Data.EtcdClusterStatusService"/>).</summary>
    public IReadOnlyDictionary<string, string?>? HostEndpoints { get; init; }
}
