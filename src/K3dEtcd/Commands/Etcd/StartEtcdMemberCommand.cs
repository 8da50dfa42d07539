using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Starts stopped etcd members and waits until they are healthy and caught up with the leader.</para>
/// <para type="description">Starts the member containers (all of them first, so a stopped cluster regains its quorum), then waits until
/// each answers /health, knows the leader and has applied the leader's revision, with progress. A member rejoins with the data in
/// its volume and on the host port it was created with (New-EtcdCluster and Add-EtcdMember fix each member's port in its port
/// binding), so ClientUrl and the cluster's Endpoints stay valid.</para>
/// </summary>
/// <example>
/// <code>Start-EtcdMember -Cluster $c -Name etcd0</code>
/// <para>Starts etcd0 again; it rejoins with its data and catches up with the writes it missed.</para>
/// </example>
/// <example>
/// <code>Start-EtcdMember -Cluster $c -All -PassThru</code>
/// <para>Starts every stopped member and writes all members with their current client URLs.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Start, "EtcdMember", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
[OutputType(typeof(EtcdClusterMember))]
public sealed class StartEtcdMemberCommand : EtcdMemberCmdlet
{
    /// <summary>Write the started members (with their current client URLs).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetMemberServiceAsync(ct);
        try
        {
            foreach (var (cluster, members) in await ResolveTargetsAsync(service, ct))
            {
                var chosen = members.Where(m => ShouldProcess($"etcd member {m.Name} of cluster '{cluster.Name}'", "Start")).ToList();
                if (chosen.Count == 0) continue;
                var started = await service.StartMembersAsync(cluster, chosen, ct);
                if (PassThru) WriteObject(started, enumerateCollection: true);
            }
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
