using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets etcd clusters made by K3dEtcd, rebuilt from Docker's labels and live state.</para>
/// <para type="description">Docker is the source of truth: the cluster objects are rebuilt from the labels on the member
/// containers and their live state, so this works in any session. A cluster none of whose member containers is left (they
/// were removed outside K3dEtcd, or a create was killed half way) is still found by what is left of it (its data volumes,
/// its network, its TLS directory) and shown with State Broken and those parts in Leftovers; Remove-EtcdCluster removes
/// them. Without -Name it lists every cluster (none: no output, no error). A name without wildcards that matches nothing
/// is a non-terminating ObjectNotFound error.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdCluster</code>
/// <para>Lists every etcd cluster made by K3dEtcd on this Docker engine.</para>
/// </example>
/// <example>
/// <code>(Get-EtcdCluster demo).Members | Format-Table Name, ClientUrl, NetworkClientUrl, State</code>
/// <para>Shows each member of the cluster "demo" with its host and in-network client URLs.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCluster | Where-Object State -EQ Broken | Format-List Name, StateReason</code>
/// <para>Lists the clusters of which only volumes, a network or a TLS directory are left, and what is left of each.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCluster test* | Remove-EtcdCluster -Force</code>
/// <para>Removes every cluster whose name starts with "test".</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdCluster")]
[OutputType(typeof(EtcdCluster))]
public sealed class GetEtcdClusterCommand : K3dEtcdCmdlet
{
    /// <summary>Names of the clusters to get; wildcards are allowed. All clusters when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ClusterName")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    public string[]? Name { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = await GetClusterServiceAsync(ct);
        var clusters = await service.ListAsync(ct);
        if (Name is null || Name.Length == 0)
        {
            WriteObject(clusters, enumerateCollection: true);
            return;
        }
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in Name)
        {
            var pattern = WildcardPattern.Get(name, WildcardOptions.IgnoreCase);
            var matches = clusters.Where(c => pattern.IsMatch(c.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
            {
                WriteFailure(new K3dEtcdException(ErrorCatalog.EtcdClusterNotFound,
                    $"No etcd cluster named '{name}' was found (clusters are found by the Docker label io.k3detcd.cluster).", name));
            }
            foreach (var cluster in matches.Where(c => written.Add(c.Name)))
            {
                WriteObject(cluster);
            }
        }
    }
}
