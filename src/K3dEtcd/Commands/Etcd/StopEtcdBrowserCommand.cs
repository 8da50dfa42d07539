using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Stops etcd browsers of this session: the page stops answering, its port is freed and its etcd connection closed.</para>
/// <para type="description">Takes browser objects from Start-EtcdBrowser or Get-EtcdBrowser (also from the pipeline), or -Id. Open pages lose their connection; etcd is not changed. Remove-Module K3dEtcd and closing the session stop every browser too.</para>
/// </summary>
/// <example>
/// <code>Stop-EtcdBrowser $b</code>
/// <para>Stops the browser started with $b = Start-EtcdBrowser ...</para>
/// </example>
/// <example>
/// <code>Get-EtcdBrowser | Stop-EtcdBrowser</code>
/// <para>Stops every browser of this session.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Stop, "EtcdBrowser", DefaultParameterSetName = BrowserSet, SupportsShouldProcess = true)]
[OutputType(typeof(void))]
public sealed class StopEtcdBrowserCommand : K3dEtcdCmdlet
{
    private const string BrowserSet = "Browser";
    private const string IdSet = "Id";

    /// <summary>The browsers to stop, as Start-EtcdBrowser or Get-EtcdBrowser returned them.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = BrowserSet)]
    [ValidateNotNull]
    public EtcdBrowser[]? Browser { get; set; }

    /// <summary>The numbers of the browsers to stop.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IdSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EtcdBrowserIdCompleter))]
    public int[]? Id { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var ids = ParameterSetName == IdSet ? Id! : Browser!.Select(b => b.Id).ToArray();
        var running = EtcdBrowserSessions.Current();
        foreach (var id in ids)
        {
            var server = running.FirstOrDefault(s => s.Id == id);
            if (server is null)
            {
                WriteFailure(new K3dEtcdException(ErrorCatalog.EtcdBrowserNotFound, $"No etcd browser with Id {id} runs in this session (already stopped?).", id));
                continue;
            }
            if (!ShouldProcess($"etcd browser {id} on port {server.Port} ({server.Describe().Cluster})", "Stop")) continue;
            await K3dEtcd.Browser.EtcdBrowserRegistry.StopAsync(server);
            WriteVerbose($"Stopped the etcd browser {id}; port {server.Port} is free.");
        }
    }
}
