using K3dEtcd.Pki;

namespace K3dEtcd.Clusters;

/// <summary>
/// Whatever of one cluster exists: member containers, data volumes and networks that carry its
/// label on the engines in reach, and its TLS directory on this machine. A create killed half way
/// (SIGKILL, a closed terminal, a reboot) or members removed behind the module's back leave some of
/// these without the others; the cluster is still found, shown and removable through any of them.
/// </summary>
public sealed class ClusterParts(string name)
{
    public string Name { get; } = name;
    public List<string> Containers { get; } = [];
    public List<string> Volumes { get; } = [];
    public List<string> Networks { get; } = [];
    public string? TlsDirectory { get; set; }

    public bool Any => Containers.Count > 0 || Volumes.Count > 0 || Networks.Count > 0 || TlsDirectory is not null;

    /// <summary>"network x", "volumes a, b", "TLS directory /p": what a message or the State reason lists.</summary>
    public IReadOnlyList<string> Describe()
    {
        var parts = new List<string>();
        if (Containers.Count > 0) parts.Add($"{Plural(Containers.Count, "container")} {string.Join(", ", Containers)}");
        if (Volumes.Count > 0) parts.Add($"{Plural(Volumes.Count, "volume")} {string.Join(", ", Volumes)}");
        if (Networks.Count > 0) parts.Add($"{Plural(Networks.Count, "network")} {string.Join(", ", Networks)}");
        if (TlsDirectory is not null) parts.Add($"TLS directory {TlsDirectory}");
        return parts;
    }

    private static string Plural(int n, string word) => n == 1 ? word : word + "s";

    /// <summary>
    /// The TLS directory a cluster of this name has on this machine: one named by a label of what
    /// is left, else the default place, when it holds our material (or is the empty shell a kill
    /// during its writing leaves).
    /// </summary>
    internal static string? FindTlsDirectory(string cluster, IEnumerable<string?> labelled)
    {
        foreach (var dir in labelled.OfType<string>().Where(d => d.Length > 0).Append(ClusterTlsStore.ClusterDirectory(ClusterTlsStore.DefaultRoot(), cluster)))
        {
            if (ClusterTlsStore.LooksLikeClusterDirectory(dir, cluster)) return Path.GetFullPath(dir);
        }
        return null;
    }

    /// <summary>Every cluster name that has a TLS directory in the default place.</summary>
    internal static IEnumerable<string> NamesWithTlsDirectory()
    {
        var root = ClusterTlsStore.DefaultRoot();
        if (!Directory.Exists(root)) return [];
        return Directory.EnumerateDirectories(root)
            .Select(Path.GetFileName).OfType<string>()
            .Where(n => ClusterTlsStore.LooksLikeClusterDirectory(Path.Combine(root, n), n));
    }
}
