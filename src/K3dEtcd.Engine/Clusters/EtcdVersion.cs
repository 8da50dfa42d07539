using System.Text.RegularExpressions;

namespace K3dEtcd.Clusters;

/// <summary>etcd version facts that decide which flags a member may be given.</summary>
public static partial class EtcdVersion
{
    [GeneratedRegex(@"etcd Version:\s*v?(\d+\.\d+\.\d+\S*)", RegexOptions.IgnoreCase)]
    private static partial Regex VersionOutput();

    [GeneratedRegex(@":v?(\d+)\.(\d+)\.(\d+)(?:[-+][\w.]+)?$")]
    private static partial Regex VersionTag();

    /// <summary>Reads the version from `etcd --version` output.</summary>
    public static string? ParseVersionOutput(string output) =>
        VersionOutput().Match(output) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>Reads a version from an image tag such as quay.io/coreos/etcd:v3.6.1.</summary>
    public static string? ParseImageTag(string image) =>
        VersionTag().Match(image) is { Success: true } m ? $"{m.Groups[1].Value}.{m.Groups[2].Value}.{m.Groups[3].Value}" : null;

    /// <summary>The v2 API (and --enable-v2) exists up to 3.5; 3.6 removed it.</summary>
    public static bool SupportsV2(string? version) =>
        version is null || (Version.TryParse(version.Split('-', '+')[0], out var v) && (v.Major < 3 || (v.Major == 3 && v.Minor <= 5)));
}
