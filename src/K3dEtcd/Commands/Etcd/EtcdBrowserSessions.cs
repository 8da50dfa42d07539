using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using K3dEtcd.Browser;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// Ties browsers to the runspace that started them: Get-EtcdBrowser sees its own session's
/// browsers, and they stop when that runspace closes or the module is removed from it.
/// </summary>
internal static class EtcdBrowserSessions
{
    private static readonly ConditionalWeakTable<Runspace, object> Hooked = new();

    private static object Owner => (object?)Runspace.DefaultRunspace ?? typeof(EtcdBrowserSessions);

    public static void Register(EtcdBrowserServer server)
    {
        var owner = Owner;
        EtcdBrowserRegistry.Add(server, owner);
        if (owner is Runspace rs && !Hooked.TryGetValue(rs, out _))
        {
            Hooked.Add(rs, new object());
            rs.StateChanged += (_, e) =>
            {
                if (e.RunspaceStateInfo.State is RunspaceState.Closing or RunspaceState.Closed or RunspaceState.Broken) EtcdBrowserRegistry.StopAll(rs);
            };
        }
    }

    public static IReadOnlyList<EtcdBrowserServer> Current() => EtcdBrowserRegistry.List(Owner);

    public static void StopAll() => EtcdBrowserRegistry.StopAll(Owner);
}
