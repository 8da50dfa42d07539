using System.Management.Automation;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets the etcd browsers running in this session.</para>
/// <para type="description">Returns one object per browser started by Start-EtcdBrowser in this session and not yet stopped, with its Id, Cluster, Port and Url. -Id picks browsers by number.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdBrowser</code>
/// <para>Lists the running browsers with their ports and clusters.</para>
/// </example>
/// <example>
/// <code>Get-EtcdBrowser | Stop-EtcdBrowser</code>
/// <para>Stops every browser of this session.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdBrowser")]
[OutputType(typeof(EtcdBrowser))]
public sealed class GetEtcdBrowserCommand : K3dEtcdCmdlet
{
    /// <summary>Only the browsers with these numbers.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EtcdBrowserIdCompleter))]
    public int[]? Id { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken ct)
    {
        var running = EtcdBrowserSessions.Current();
        if (Id is null)
        {
            foreach (var s in running) WriteObject(s.Describe());
            return Task.CompletedTask;
        }
        foreach (var id in Id)
        {
            var found = running.FirstOrDefault(s => s.Id == id);
            if (found is not null) WriteObject(found.Describe());
            else WriteFailure(new Common.K3dEtcdException(Common.ErrorCatalog.EtcdBrowserNotFound, $"No etcd browser with Id {id} runs in this session.", id));
        }
        return Task.CompletedTask;
    }
}
