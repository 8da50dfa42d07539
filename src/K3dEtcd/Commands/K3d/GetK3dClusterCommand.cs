using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Gets k3d clusters (from `k3d cluster list -o json`) with their datastore, API endpoint and kubeconfig path.</para>
/// <para type="description">Reads `k3d cluster list -o json` (keys read case-insensitively: k3d mixes JSON tags and Go names) and adds
/// the datastore recorded at creation: New-K3dCluster labels the server containers with io.k3detcd.datastore (password masked) and
/// io.k3detcd.etcd-cluster, and Get-K3dCluster returns the EtcdCluster object when that etcd cluster still exists.</para>
/// </summary>
/// <example>
/// <code>Get-K3dCluster</code>
/// <para>Lists every k3d cluster with servers and agents running, datastore and API endpoint.</para>
/// </example>
/// <example>
/// <code>(Get-K3dCluster topgun).Datastore | Get-EtcdKey -Prefix /registry/ -KeysOnly</code>
/// <para>Gets the etcd cluster behind topgun and lists what k3s wrote into it.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "K3dCluster")]
[OutputType(typeof(K3dCluster))]
public sealed class GetK3dClusterCommand : K3dCmdletBase
{
    /// <summary>Cluster names (wildcards allowed); all clusters when absent.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(K3dClusterNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary>The k3d executable (default: K3DETCD_K3D_PATH, then k3d on PATH).</summary>
    [Parameter]
    public string? K3dPath { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetK3dServiceAsync(ResolvePath(K3dPath), ct);
        var clusters = await service.ListAsync(ct);
        var selected = new List<K3dEtcd.K3d.K3dClusterInfo>();
        if (Name is null || Name.Length == 0) selected.AddRange(clusters);
        else
        {
            foreach (var name in Name)
            {
                var pattern = WildcardPattern.Get(name, WildcardOptions.IgnoreCase);
                var matches = clusters.Where(c => pattern.IsMatch(c.Name)).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                {
                    WriteFailure(new K3dEtcdException(ErrorCatalog.K3dClusterNotFound, $"No k3d cluster named '{name}' was found (`k3d cluster list`).", name));
                }
                selected.AddRange(matches.Where(m => !selected.Contains(m)));
            }
        }
        foreach (var info in selected)
        {
            WriteObject(await ToK3dClusterAsync(info, service.Version, null, null, null, ct));
        }
    }
}
