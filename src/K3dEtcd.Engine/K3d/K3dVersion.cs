using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>Which generation of k3d's command line a version speaks.</summary>
public enum K3dSyntax
{
    /// <summary>v3.0-v3.3: `cluster create`, `--k3s-server-arg`, no `--env`/`--label`, no JSON listing.</summary>
    V3Early,
    /// <summary>v3.4-v3.x: adds `-e`/`--label` with `server[*]` node filters and `list -o json`.</summary>
    V3,
    /// <summary>v4: `--kubeconfig-update-default`, `-e`/`--label` with `server[*]`, `--k3s-server-arg`.</summary>
    V4,
    /// <summary>v5: `--k3s-arg ARG@server:*`, `--runtime-label`, node filters `server:*`.</summary>
    V5,
}

/// <summary>The installed k3d's version, read from `k3d version` (text, or JSON from v5.5).</summary>
public sealed partial record K3dVersion(string Text, Version Number, string? K3sVersion)
{
    public static readonly Version Minimum = new(3, 0, 0);

    /// <summary>The newest k3d whose command line the module knows; -WhatIf shows its syntax when no k3d is installed.</summary>
    public static readonly K3dVersion Latest = new("v5.9.0", new Version(5, 9, 0), null);

    public K3dSyntax Syntax =>
        Number.Major >= 5 ? K3dSyntax.V5
        : Number.Major == 4 ? K3dSyntax.V4
        : Number >= new Version(3, 4, 0) ? K3dSyntax.V3
        : K3dSyntax.V3Early;

    public bool SupportsJsonList => Syntax != K3dSyntax.V3Early;
    public bool SupportsEnvironment => Syntax != K3dSyntax.V3Early;
    public bool SupportsJsonVersion => Number >= new Version(5, 5, 0);

    /// <summary>The node filter that selects every server in this k3d's syntax.</summary>
    public string AllServersFilter => Syntax == K3dSyntax.V5 ? "server:*" : "server[*]";

    [GeneratedRegex(@"k3d version (?<v>v?(?<maj>\d+)(?:\.(?<min>\d+))?(?:\.(?<pat>\d+))?[^\s]*)", RegexOptions.IgnoreCase)]
    private static partial Regex VersionLine();

    [GeneratedRegex(@"k3s version (?<v>\S+)", RegexOptions.IgnoreCase)]
    private static partial Regex K3sLine();

    /// <summary>Parses `k3d version` text; "v5-dev" (a source build) counts as 5.0.0.</summary>
    public static K3dVersion ParseText(string output)
    {
        var m = VersionLine().Match(output);
        if (!m.Success)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dVersionUnknown,
                $"Cannot read the k3d version from `k3d version`: {Trim(output)}", output);
        }
        var k3s = K3sLine().Match(output);
        return new K3dVersion(m.Groups["v"].Value, ToVersion(m), k3s.Success ? k3s.Groups["v"].Value : null);
    }

    /// <summary>Parses `k3d version -o json`: {"k3d":"v5.8.3","k3s":"v1.31.5-k3s1"}.</summary>
    public static K3dVersion ParseJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            string? k3d = null, k3s = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name.Equals("k3d", StringComparison.OrdinalIgnoreCase)) k3d = p.Value.GetString();
                if (p.Name.Equals("k3s", StringComparison.OrdinalIgnoreCase)) k3s = p.Value.GetString();
            }
            var parsed = ParseText($"k3d version {k3d}");
            return parsed with { K3sVersion = k3s };
        }
        catch (JsonException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dVersionUnknown, $"`k3d version -o json` printed no JSON: {Trim(json)}", json, ex);
        }
    }

    private static Version ToVersion(Match m) => new(
        int.Parse(m.Groups["maj"].Value, CultureInfo.InvariantCulture),
        m.Groups["min"].Success ? int.Parse(m.Groups["min"].Value, CultureInfo.InvariantCulture) : 0,
        m.Groups["pat"].Success ? int.Parse(m.Groups["pat"].Value, CultureInfo.InvariantCulture) : 0);

    /// <summary>Refuses k3d before v3.0.0 (`k3d create cluster`, `--masters/--workers`).</summary>
    public void EnsureSupported(string path)
    {
        var prerelease = Text.Contains('-') && Number == Minimum;
        if (Number < Minimum || prerelease)
        {
            throw new K3dEtcdException(ErrorCatalog.UnsupportedK3dVersion,
                $"Unsupported k3d version {Text} ({path}): K3dEtcd needs k3d v3.0.0 or later (v5 recommended). k3d before v3.0.0 used `k3d create cluster --masters/--workers` and cannot pass a datastore to k3s servers. Install a current k3d (https://k3d.io) or pass -K3dPath.", Text);
        }
    }

    private static string Trim(string s) => s.Length > 300 ? s[..300] + "..." : s.Trim();

    public override string ToString() => Text;
}
