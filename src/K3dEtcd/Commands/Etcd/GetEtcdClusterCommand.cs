using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Gets etcd clusters made by K3dEtcd, rebuilt from Docker's labels and live state.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "EtcdCluster")]
[OutputType(typeof(EtcdCluster))]
public sealed class GetEtcdClusterCommand : K3dEtcdCmdlet
{
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
                WriteFailure(new K3dEtcdException("EtcdClusterNotFound", FailureKind.ObjectNotFound,
                    $"No etcd cluster named '{name}' was found (clusters are found by the Docker label io.k3detcd.cluster).", name));
            }
            foreach (var cluster in matches.Where(c => written.Add(c.Name)))
            {
                WriteObject(cluster);
            }
        }
    }
}
