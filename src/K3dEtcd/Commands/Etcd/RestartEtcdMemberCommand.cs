using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Restarts etcd members and waits until they are healthy and caught up; -Rolling restarts one at a time.</para>
/// <para type="description">With -Rolling each member is stopped, started and waited for (healthy and caught up) before the next one, so
/// the cluster keeps its quorum throughout. Without -Rolling the members are stopped together and started together; when that would
/// lose the quorum it is refused unless -Force. -Kill stops with SIGKILL instead of SIGTERM.</para>
/// </summary>
/// <example>
/// <code>Restart-EtcdMember -Cluster $c -All -Rolling</code>
/// <para>Restarts the members one at a time, waiting for each to be healthy and caught up in between.</para>
/// </example>
/// <example>
/// <code>Restart-EtcdMember -Cluster $c -Leader -Kill</code>
/// <para>Crashes the leader, waits for a new one, starts the old leader again and waits until it caught up.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Restart, "EtcdMember", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(EtcdClusterMember))]
public sealed class RestartEtcdMemberCommand : EtcdMemberCmdlet
{
    /// <summary>One member at a time, waiting for it to be healthy and caught up before the next.</summary>
    [Parameter]
    public SwitchParameter Rolling { get; set; }

    /// <summary>Stop with SIGKILL instead of SIGTERM.</summary>
    [Parameter]
    public SwitchParameter Kill { get; set; }

    /// <summary>Restart even when the cluster loses its quorum meanwhile, and do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Write the restarted members (with their current client URLs).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMemberServiceAsync(ct);
        try
        {
            foreach (var (cluster, members) in await ResolveTargetsAsync(service, ct))
            {
                var restarts = service.RestartMembersAsync(cluster, members, Rolling, Kill, Force,
                    m => OnPipelineThreadAsync(() => ShouldProcessUnlessForced(Force, $"etcd member {m.Name} of cluster '{cluster.Name}'", "Restart")), ct);
                await foreach (var started in restarts)
                {
                    if (PassThru) WriteObject(started, enumerateCollection: true);
                }
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
