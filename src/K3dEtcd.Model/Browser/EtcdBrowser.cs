namespace K3dEtcd.Model;

/// <summary>
/// A running etcd browser: a web page served from this PowerShell session on loopback, as
/// Start-EtcdBrowser and Get-EtcdBrowser return it.
/// </summary>
public sealed class EtcdBrowser
{
    /// <summary>Number of the browser in this session (for Stop-EtcdBrowser -Id).</summary>
    public int Id { get; init; }
    /// <summary>The cluster name, or the endpoints when the browser was started with -Endpoint.</summary>
    public string Cluster { get; init; } = "";
    /// <summary>The etcd client URLs the browser reads from.</summary>
    public string[] Endpoints { get; init; } = [];
    /// <summary>Loopback port the page is served on.</summary>
    public int Port { get; init; }
    /// <summary>
    /// The address to open, with this browser's access token: the page trades the token for a
    /// cookie and drops it from the address bar. Anyone who can read this URL can read the page.
    /// </summary>
    public string Url { get; init; } = "";
    /// <summary>True when the page may put and delete keys (-AllowWrite).</summary>
    public bool AllowWrite { get; init; }
    public bool Tls { get; init; }
    /// <summary>When the browser started (UTC).</summary>
    public DateTime Started { get; init; }
    /// <summary>False once Stop-EtcdBrowser (or Remove-Module) stopped it.</summary>
    public bool IsRunning { get; init; }

    public override string ToString() => $"http://127.0.0.1:{Port}/ ({Cluster})";
}
