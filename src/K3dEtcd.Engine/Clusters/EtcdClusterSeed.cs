using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.Clusters;

/// <summary>
/// What cluster creation hands to <see cref="EtcdClusterSpec.BeforeStart"/>: the members'
/// containers exist (not started) with their volumes, so a data directory can be prepared in
/// each volume before etcd first runs on it.
/// </summary>
public sealed partial record EtcdClusterSeed(EtcdClusterSpec Spec, string? Version, IReadOnlyList<string> Containers, IReadOnlyList<string> Volumes, IReadOnlyList<string> PeerUrls, string InitialCluster)
{
    public string Volume(int position) => Volumes[position];

    [GeneratedRegex(@"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^\d+$")]
    private static partial Regex Retention();

    /// <summary>Checks -QuotaBackendBytes and -AutoCompaction* before anything is created (etcd would only fail at start).</summary>
    public static void ValidateQuotaAndCompaction(EtcdClusterSpec spec)
    {
        if (spec.QuotaBackendBytes is { } q && q is < 0 or > 8L * 1024 * 1024 * 1024 * 1024)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidQuotaBackendBytes, $"A backend quota of {q} bytes is out of range (0 means etcd's default of 2 GiB; etcd allows up to 8 TiB).", q);
        }
        if (spec.AutoCompactionMode is { } mode && mode is not ("periodic" or "revision"))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidAutoCompactionMode, $"'{mode}' is not an auto-compaction mode: use periodic or revision.", mode);
        }
        if (spec.AutoCompactionRetention is { } r)
        {
            var ok = spec.AutoCompactionMode == "revision" ? long.TryParse(r, out var n) && n > 0 : Retention().IsMatch(r);
            if (!ok)
            {
                throw new K3dEtcdException(ErrorCatalog.InvalidAutoCompactionRetention, spec.AutoCompactionMode == "revision"
                        ? $"'{r}' is not a revision count: in revision mode the retention is a positive number of revisions, for example 1000."
                        : $"'{r}' is not a retention period: use a duration such as 1h, 30m or 1h30m (a bare number means hours).", r);
            }
        }
    }
}
