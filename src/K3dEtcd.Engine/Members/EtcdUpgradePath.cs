using K3dEtcd.Common;

namespace K3dEtcd.Members;

/// <summary>
/// The versions etcd can be upgraded between (etcd's upgrade policy, etcd.io/docs/latest/upgrades/upgrading-etcd):
/// a patch upgrade within a minor, or one minor at a time, never a skipped minor and never a
/// downgrade (only 3.6 -> 3.5 has a supported downgrade, through etcd's own downgrade API).
/// </summary>
public static class EtcdUpgradePath
{
    /// <summary>
    /// The 3.5 patch every member must run before 3.6: etcd's "Upgrade etcd from v3.5 to v3.6"
    /// guide (etcd.io/docs/latest/upgrades/upgrade_3_6, "Update 3.5") says 3.5.26 or later, as
    /// 3.5.24 through 3.5.26 fix upgrade blockers; earlier editions of the guide said 3.5.20.
    /// </summary>
    public static readonly Version MinimumBefore36 = new(3, 5, 26);

    /// <summary>Parses 3.5.16, v3.5.16 or 3.5.16-rc.0 (the pre-release is ignored).</summary>
    public static Version? Parse(string? version) =>
        version is not null && Version.TryParse(version.TrimStart('v').Split('-', '+')[0], out var v) && v.Build >= 0 ? v : null;

    /// <summary>Refuses a path etcd does not support, naming the path that works; returns false when there is nothing to do (same version).</summary>
    public static bool Check(string cluster, string? from, string? to, bool v2Enabled)
    {
        var f = Parse(from) ?? throw new K3dEtcdException(ErrorCatalog.UpgradeVersionUnknown,
            $"The etcd version of cluster '{cluster}' is not known ('{from}'), so no upgrade path can be checked.", cluster);
        var t = Parse(to) ?? throw new K3dEtcdException(ErrorCatalog.UpgradeVersionUnknown,
            $"The target etcd version '{to}' is not a version (give -Version 3.5.30, or an image whose tag names the version).", to ?? "");
        if (t == f) return false;
        if (t < f)
        {
            throw new K3dEtcdException(ErrorCatalog.UpgradeIsDowngrade, f.Major == 3 && f.Minor == 6 && t.Major == 3 && t.Minor == 5
                ? $"Cluster '{cluster}' runs etcd {f}; going back to {t} is a downgrade, which etcd supports only through its downgrade API (etcdctl downgrade validate {t.Major}.{t.Minor}, then etcdctl downgrade enable), not by replacing images. Nothing was changed."
                : $"Cluster '{cluster}' runs etcd {f}; {t} is older, and etcd has no supported downgrade from {f.Major}.{f.Minor} (restore a snapshot taken before the upgrade into a new cluster instead). Nothing was changed.", to!);
        }
        if (t.Major != f.Major || t.Minor > f.Minor + 1)
        {
            var next = $"{f.Major}.{f.Minor + 1}";
            throw new K3dEtcdException(ErrorCatalog.UpgradeSkipsMinor,
                $"etcd upgrades one minor version at a time: cluster '{cluster}' runs {f}, so upgrade to the newest {next} patch first (Update-EtcdCluster -Cluster {cluster} -Version {next}.x), then to {t}. Nothing was changed.", to!);
        }
        if (t.Minor == f.Minor + 1 && t >= new Version(3, 6) && f < MinimumBefore36)
        {
            throw new K3dEtcdException(ErrorCatalog.UpgradeNeedsNewerPatch,
                $"etcd's 3.5 -> 3.6 upgrade guide requires every member on {MinimumBefore36} or later first; cluster '{cluster}' runs {f}. Run Update-EtcdCluster -Cluster {cluster} -Version 3.5.30 (or a newer 3.5) first. Nothing was changed.", to!);
        }
        if (v2Enabled && t >= new Version(3, 6))
        {
            throw new K3dEtcdException(ErrorCatalog.UpgradeV2Enabled,
                $"Cluster '{cluster}' was created with -EnableV2, and etcd {t} removed the v2 API and refuses --enable-v2. Move what you keep in the v2 store to v3, then make a cluster without -EnableV2 (Save-EtcdSnapshot, then Restore-EtcdSnapshot). Nothing was changed.", to!);
        }
        return true;
    }

    /// <summary>The image of <paramref name="version"/> in the repository of <paramref name="image"/>, in the tag's own spelling (v3.5.30 or 3.5.30).</summary>
    public static string ImageFor(string image, string version)
    {
        var at = image.IndexOf('@');
        var bare = at > 0 ? image[..at] : image;
        var slash = bare.LastIndexOf('/');
        var colon = bare.LastIndexOf(':');
        var repository = colon > slash ? bare[..colon] : bare;
        var tag = colon > slash ? bare[(colon + 1)..] : "";
        var v = version.TrimStart('v');
        return $"{repository}:{(tag.StartsWith('v') ? "v" : "")}{v}";
    }
}
