namespace K3dEtcd.K3d;

/// <summary>The names a k3d cluster's API server certificate is valid for.</summary>
public static class K3dSans
{
    /// <summary>What k3s always includes, what k3d adds (the API host, the load balancer), and the cluster's --tls-san values.</summary>
    public static IReadOnlyList<string> Of(string cluster, IEnumerable<string> tlsSans, string? apiHost)
    {
        var all = new List<string> { "localhost", "127.0.0.1", "::1", "0.0.0.0", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", "10.43.0.1", $"k3d-{cluster}-serverlb", $"k3d-{cluster}-server-0", "host.k3d.internal" };
        if (!string.IsNullOrEmpty(apiHost)) all.Add(apiHost);
        all.AddRange(tlsSans);
        return all.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>--tls-san values in k3s argument lists (--tls-san=X, --tls-san X, comma lists).</summary>
    public static IEnumerable<string> FromArguments(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string? value = a.StartsWith("--tls-san=", StringComparison.Ordinal) ? a["--tls-san=".Length..]
                : a == "--tls-san" && i + 1 < args.Count ? args[++i] : null;
            if (value is null) continue;
            foreach (var v in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) yield return v;
        }
    }
}
