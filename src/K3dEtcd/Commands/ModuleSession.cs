using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using K3dEtcd.Model;

namespace K3dEtcd.Commands;

/// <summary>
/// Per-runspace module state: two runspaces (ThreadJob, ForEach-Object -Parallel) never see each
/// other's settings, and a closed runspace's state goes with it.
/// </summary>
internal static class ModuleSession
{
    private static readonly ConditionalWeakTable<Runspace, K3dEtcdOption> Options = new();

    public static K3dEtcdOption Current =>
        Runspace.DefaultRunspace is { } rs ? Options.GetValue(rs, _ => new K3dEtcdOption()) : new K3dEtcdOption();
}
