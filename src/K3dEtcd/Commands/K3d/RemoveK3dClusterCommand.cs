using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Removes a k3d cluster (`k3d cluster delete`); its etcd datastore stays unless -IncludeDatastore.</para>
/// <para type="description">Runs `k3d cluster delete NAME`. The etcd cluster the k3d cluster used is kept (its data outlives the k3s
/// cluster) unless -IncludeDatastore, which then removes it like Remove-EtcdCluster. Asks for confirmation unless -Force.</para>
/// <para type="description">The k3s client certificate New-K3dCluster issued goes with the cluster (unless -KeepClientCertificate), but
/// the k3s token it kept (k3d/NAME/token in the etcd cluster's private directory) stays: the datastore's bootstrap data is sealed with
/// it, so a new New-K3dCluster NAME on the same etcd cluster uses it again and finds the old cluster state, and Test-K3dDatastore still
/// opens the data with it. The k3d/NAME folder stays while the token is in it; the token goes with the etcd cluster (Remove-EtcdCluster,
/// or -IncludeDatastore here).</para>
/// </summary>
/// <example>
/// <code>Remove-K3dCluster topgun</code>
/// <para>Removes the k3d cluster topgun after confirmation; its etcd cluster stays.</para>
/// </example>
/// <example>
/// <code>Get-K3dCluster topgun | Remove-K3dCluster -IncludeDatastore -Force</code>
/// <para>Removes topgun and the etcd cluster it used, without asking.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "K3dCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class RemoveK3dClusterCommand : K3dCmdletBase
{
    private const string ByName = "Name";
    private const string ByObject = "InputObject";

    /// <summary>Names of the k3d clusters to remove.</summary>
    [Parameter(ParameterSetName = ByName, Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [ArgumentCompleter(typeof(K3dClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>K3dCluster objects (from Get-K3dCluster or New-K3dCluster).</summary>
    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    public K3dCluster[] InputObject { get; set; } = [];

    /// <summary>Also remove the etcd cluster made by K3dEtcd that the k3d cluster used.</summary>
    [Parameter]
    public SwitchParameter IncludeDatastore { get; set; }

    /// <summary>Keep the client certificate and key New-K3dCluster issued for the k3s servers (in the etcd cluster's TLS directory, k3d/NAME/); by default they go with the cluster.</summary>
    [Parameter]
    public SwitchParameter KeepClientCertificate { get; set; }

    /// <summary>Remove without asking for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The k3d executable (default: K3DETCD_K3D_PATH, then k3d on PATH).</summary>
    [Parameter]
    public string? K3dPath { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = EtcdServices.K3dEngine(await GetK3dServiceAsync(ResolvePath(K3dPath), ct), GetDockerAsync, this);
        var names = ParameterSetName == ByObject ? InputObject.Select(c => c.Name).ToArray() : Name;
        var clusters = await service.K3d.ListAsync(ct);
        foreach (var name in names)
        {
            var info = clusters.FirstOrDefault(c => c.Name == name);
            if (info is null)
            {
                WriteFailure(new K3dEtcdException(ErrorCatalog.K3dClusterNotFound, $"No k3d cluster named '{name}' was found; nothing was removed.", name));
                continue;
            }
            var etcd = info.EtcdClusterLabel;
            if (IncludeDatastore && etcd is null)
            {
                WriteWarning($"k3d cluster '{name}' does not use an etcd cluster made by K3dEtcd ({info.DatastoreLabel ?? "no datastore recorded"}); -IncludeDatastore removes nothing else.");
            }
            var what = $"k3d cluster '{name}' ({info.ServersCount} servers, {info.AgentsCount} agents)" + (IncludeDatastore && etcd is not null ? $" and its etcd cluster '{etcd}'" : "");
            if (!ShouldProcessUnlessForced(Force, what, "Remove")) continue;
            try
            {
                await service.RemoveAsync(info, IncludeDatastore, KeepClientCertificate, ct);
            }
            catch (K3dEtcdException ex) when (IsPerItem(ex))
            {
                WriteFailure(ex);
            }
        }
    }
}
