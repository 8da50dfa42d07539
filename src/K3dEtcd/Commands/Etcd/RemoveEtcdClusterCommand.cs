using System.Management.Automation;
using K3dEtcd.Clusters;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Removes an etcd cluster: exactly the containers, volumes and network that carry its label.</para>
/// <para type="description">Removes the member containers, their data volumes and a TLS cluster's certificate directory
/// (both unless -KeepData) and the network created for the cluster. Nothing without the cluster's io.k3detcd.cluster label is ever touched: a network given with
/// New-EtcdCluster -Network is left alone. A cluster with no member container left (Get-EtcdCluster shows it Broken) is removed
/// the same way: whatever of its volumes, network and TLS directory exists. Asks for confirmation unless -Force or -Confirm:$false.</para>
/// </summary>
/// <example>
/// <code>Remove-EtcdCluster demo -Force</code>
/// <para>Removes the cluster "demo" without asking.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCluster demo | Remove-EtcdCluster -KeepData</code>
/// <para>Removes the containers and network of the piped cluster after confirmation and keeps the data volumes.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "EtcdCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class RemoveEtcdClusterCommand : K3dEtcdCmdlet
{
    private const string ByName = "Name";
    private const string ByObject = "InputObject";

    /// <summary>Names of the clusters to remove.</summary>
    [Parameter(ParameterSetName = ByName, Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Cluster objects to remove, as Get-EtcdCluster and New-EtcdCluster return them.</summary>
    [Parameter(ParameterSetName = ByObject, Mandatory = true, ValueFromPipeline = true)]
    [Alias("Cluster")]
    public EtcdCluster[] InputObject { get; set; } = [];

    /// <summary>Keep the members' data volumes and, for a TLS cluster, its TLS material directory.</summary>
    [Parameter]
    public SwitchParameter KeepData { get; set; }

    /// <summary>Removes without asking for confirmation. -WhatIf still only describes what would be removed.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var names = ParameterSetName == ByObject ? InputObject.Select(c => c.Name).ToArray() : Name;
        var service = await GetClusterServiceAsync(ct);
        foreach (var name in names)
        {
            var cluster = await service.GetAsync(name, ct);
            if (cluster is null)
            {
                // No member container is left: whatever else is (volumes, network, TLS directory) is removed the same way.
                var parts = (await service.FindPartsAsync(name, ct)).FirstOrDefault();
                if (parts is null)
                {
                    WriteFailure(new K3dEtcdException(ErrorCatalog.EtcdClusterNotFound,
                        $"No etcd cluster named '{name}' was found; nothing was removed.", name));
                    continue;
                }
                var kept = KeepData ? " (keeping volumes and the TLS directory)" : "";
                if (!ShouldProcessUnlessForced(Force, $"what is left of etcd cluster '{name}'{kept}: {string.Join("; ", parts.Describe())}", "Remove")) continue;
                await RemoveAsync(service, name, ct);
                continue;
            }
            var data = (KeepData.IsPresent, cluster.Tls) switch
            {
                (true, null) => ", keeping data volumes",
                (true, _) => ", keeping data volumes and TLS material",
                (false, null) => " and their data volumes",
                (false, { } tls) => $" and their data volumes, TLS material {tls.Directory}",
            };
            var what = cluster.Engines.Length > 0
                ? $"etcd cluster '{name}' ({cluster.Size} containers{data}, on the Docker engines {string.Join(", ", cluster.Engines)})"
                : $"etcd cluster '{name}' ({cluster.Size} containers{data}, network {cluster.Network} if it was created for it)";
            if (!ShouldProcessUnlessForced(Force, what, "Remove")) continue;
            await RemoveAsync(service, name, ct);
        }
    }

    private async Task RemoveAsync(EtcdClusterService service, string name, CancellationToken ct)
    {
        try
        {
            var removed = await service.RemoveAsync(name, KeepData, ct);
            WriteVerbose($"Removed {removed.Containers.Count} containers, {removed.Volumes.Count} volumes, {removed.Networks.Count} networks{(removed.TlsDirectory is null ? "" : " and the TLS directory")} of cluster '{name}'.");
        }
        catch (K3dEtcdException ex)
        {
            WriteFailure(ex);
        }
    }
}
