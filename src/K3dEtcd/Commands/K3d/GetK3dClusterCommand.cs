using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Gets k3d clusters (from `k3d cluster list -o json`) with their datastore, API endpoint and kubeconfig path.</para>
/// <para type="description">Reads `k3d cluster list -o json` (keys read case-insensitively: k3d mixes JSON tags and Go names) and adds
/// the datastore recorded at creation: New-K3dCluster labels the server containers with io.k3detcd.datastore (password masked) and
/// io.k3detcd.etcd-cluster, and Get-K3dCluster returns the EtcdCluster object when that etcd cluster still exists.</para>
/// <para type="description">With -IncludeToken, the k3s token New-K3dCluster kept for the cluster (k3d/NAME/token in the etcd cluster's
/// private directory) is read and returned as the SecureString Token; without it no token file is read. A cluster with no kept token
/// (made on a datastore string, or before K3dEtcd kept tokens) gets Token null and a warning saying why.</para>
/// </summary>
/// <example>
/// <code>Get-K3dCluster</code>
/// <para>Lists every k3d cluster with servers and agents running, datastore and API endpoint.</para>
/// </example>
/// <example>
/// <code>(Get-K3dCluster topgun).Datastore | Get-EtcdKey -Prefix /registry/ -KeysOnly</code>
/// <para>Gets the etcd cluster behind topgun and lists what k3s wrote into it.</para>
/// </example>
/// <example>
/// <code>$k = Get-K3dCluster topgun -IncludeToken; Test-K3dDatastore $k.Datastore -Token $k.Token</code>
/// <para>Reads the k3s token New-K3dCluster kept for topgun (a SecureString) and checks that it opens the datastore's bootstrap data.</para>
/// </example>
/// <example>
/// <code>Restore-EtcdSnapshot ./prod.db -Name prod2; New-K3dCluster topgun2 -Datastore prod2 -Token (Get-K3dCluster topgun -IncludeToken).Token</code>
/// <para>A k3s cluster on a restored datastore needs the original token: it is taken from the one kept for topgun.</para>
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

    /// <summary>Also read the k3s token New-K3dCluster kept for each cluster and return it as the SecureString Token (null, with a warning, when none is kept).</summary>
    [Parameter]
    public SwitchParameter IncludeToken { get; set; }

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
            var cluster = await ToK3dClusterAsync(info, service.Version, null, null, null, ct);
            if (IncludeToken) cluster = WithKeptToken(cluster, info);
            WriteObject(cluster);
        }
    }

    private K3dCluster WithKeptToken(K3dCluster cluster, K3dEtcd.K3d.K3dClusterInfo info)
    {
        string? why;
        if (cluster.Datastore is EtcdCluster etcd)
        {
            var file = K3dEtcd.Pki.K3sTokenStore.FileFor(etcd, info.Name);
            try
            {
                if (K3dEtcd.Pki.K3sTokenStore.Read(file) is { } token)
                {
                    WriteVerbose($"Read the k3s token kept for '{info.Name}' from {file}.");
                    return cluster.WithToken(ToSecureString(token));
                }
                why = $"{file} does not exist (the cluster was made before K3dEtcd kept tokens, or the file was removed)";
            }
            catch (K3dEtcdException ex)
            {
                why = ex.Message;
            }
        }
        else if (info.EtcdClusterLabel is { } name)
        {
            why = $"its etcd cluster '{name}' is not found, and the token is kept in that cluster's private directory";
        }
        else
        {
            why = $"it does not use an etcd cluster of K3dEtcd ({info.DatastoreLabel ?? "no datastore recorded"}), so New-K3dCluster kept no token for it";
        }
        WriteWarning($"No kept k3s token for k3d cluster '{info.Name}': {why}.");
        return cluster;
    }
}
