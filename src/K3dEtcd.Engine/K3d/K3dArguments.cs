using System.Globalization;
using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>
/// Builds `k3d cluster create` argument arrays for the installed k3d's syntax. Every value is one
/// array element (no shell ever parses it); node-filtered values escape a literal '@' as '\@'.
/// </summary>
public static class K3dArguments
{
    public const string DatastoreLabel = "io.k3detcd.datastore";
    public const string EtcdClusterLabel = "io.k3detcd.etcd-cluster";

    /// <summary>The arguments, and the same arguments with secrets masked for display.</summary>
    public sealed record Built(IReadOnlyList<string> Arguments, IReadOnlyList<string> Display, IReadOnlyList<string> Warnings);

    /// <summary>k3d reads an unescaped '@' as the start of a node filter.</summary>
    public static string EscapeAt(string value) => value.Replace("@", "\\@", StringComparison.Ordinal);

    public static string Filtered(string value, K3dVersion version) => $"{EscapeAt(value)}@{version.AllServersFilter}";

    /// <summary>Host paths as k3d wants them in --volume: forward slashes (older k3d misreads C:\).</summary>
    public static string VolumePath(string hostPath) => Path.GetFullPath(hostPath).Replace('\\', '/');

    public static Built Create(K3dClusterSpec spec, K3dVersion version)
    {
        var args = new List<string>();
        var display = new List<string>();
        var warnings = new List<string>();
        void Add(string a, string? shown = null) { args.Add(a); display.Add(shown ?? a); }

        Add("cluster"); Add("create"); Add(spec.Name);
        Add("--servers"); Add(spec.Servers.ToString(CultureInfo.InvariantCulture));
        Add("--agents"); Add(spec.Agents.ToString(CultureInfo.InvariantCulture));
        if (spec.EffectiveNetwork is { Length: > 0 } network) { Add("--network"); Add(network); }
        if (spec.Image is { Length: > 0 } image) { Add("-i"); Add(image); }
        if (spec.ApiPort is { Length: > 0 } port) { Add("--api-port"); Add(port); }
        Add("--token"); Add(spec.Token, "***");

        var ds = spec.Datastore;
        var serverArgs = new List<(string Arg, string Shown)>();
        if (version.SupportsEnvironment)
        {
            foreach (var (key, value) in ds.EnvironmentVariables())
            {
                Add("-e");
                Add(Filtered($"{key}={value}", version), Filtered($"{key}={K3dDatastore.Mask(value)}", version));
            }
        }
        else
        {
            // k3d before v3.4 has no --env: the only way in is a k3s argument (visible in process lists).
            warnings.Add($"k3d {version} has no --env flag: the datastore endpoint is passed as a k3s server argument and shows in the servers' process lists. Upgrade k3d to keep it out.");
            serverArgs.Add(($"--datastore-endpoint={ds.Endpoint}", $"--datastore-endpoint={ds.Masked}"));
            if (ds.CaFile is not null) serverArgs.Add(($"--datastore-cafile={DatastoreTarget.ContainerCaFile}", $"--datastore-cafile={DatastoreTarget.ContainerCaFile}"));
            if (ds.CertFile is not null) serverArgs.Add(($"--datastore-certfile={DatastoreTarget.ContainerCertFile}", $"--datastore-certfile={DatastoreTarget.ContainerCertFile}"));
            if (ds.KeyFile is not null) serverArgs.Add(($"--datastore-keyfile={DatastoreTarget.ContainerKeyFile}", $"--datastore-keyfile={DatastoreTarget.ContainerKeyFile}"));
        }
        foreach (var (host, container) in ds.Mounts())
        {
            // The volume flag always takes a node filter (v3 accepts server[*] too): only servers talk to the datastore.
            Add("-v"); Add(version.Syntax == K3dSyntax.V3Early ? $"{VolumePath(host)}:{container}:ro" : Filtered($"{VolumePath(host)}:{container}:ro", version));
        }
        foreach (var san in spec.TlsSan) serverArgs.Add(($"--tls-san={san}", $"--tls-san={san}"));
        foreach (var extra in spec.K3sArguments) serverArgs.Add((extra, K3dDatastore.Mask(extra)));
        foreach (var (arg, shown) in serverArgs)
        {
            if (version.Syntax == K3dSyntax.V5) { Add("--k3s-arg"); Add(Filtered(arg, version), Filtered(shown, version)); }
            else { Add("--k3s-server-arg"); Add(arg, shown); }
        }

        // The datastore is recorded on the server containers, so Get-K3dCluster shows it in any session.
        var labels = new List<(string, string)> { (DatastoreLabel, ds.EtcdClusterName is null ? ds.Masked : $"etcd cluster {ds.EtcdClusterName}") };
        if (ds.EtcdClusterName is not null) labels.Add((EtcdClusterLabel, ds.EtcdClusterName));
        switch (version.Syntax)
        {
            case K3dSyntax.V5:
                foreach (var (k, v) in labels) { Add("--runtime-label"); Add(Filtered($"{k}={v}", version)); }
                break;
            case K3dSyntax.V4:
            case K3dSyntax.V3:
                foreach (var (k, v) in labels) { Add("--label"); Add(Filtered($"{k}={v}", version)); }
                break;
            default:
                warnings.Add($"k3d {version} cannot label containers: Get-K3dCluster will not know this cluster's datastore.");
                break;
        }

        Add("--wait");
        Add("--timeout"); Add($"{Math.Max(1, (int)Math.Ceiling(spec.Timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)}s");
        if (spec.NoKubeconfigUpdate)
        {
            if (version.Syntax is K3dSyntax.V5 or K3dSyntax.V4) { Add("--kubeconfig-update-default=false"); Add("--kubeconfig-switch-context=false"); }
            else { Add("--update-default-kubeconfig=false"); Add("--switch-context=false"); }
        }
        return new Built(args, display, warnings);
    }

    public static void ValidateSpec(K3dClusterSpec spec)
    {
        if (string.IsNullOrEmpty(spec.Name) || spec.Name.Length > 32 || !System.Text.RegularExpressions.Regex.IsMatch(spec.Name, "^[a-zA-Z0-9][a-zA-Z0-9-]*$"))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidK3dClusterName,
                $"'{spec.Name}' is not a valid k3d cluster name: k3d wants at most 32 letters, digits or '-', starting with a letter or digit (it becomes part of host names like k3d-NAME-server-0).", spec.Name);
        }
        if (spec.Servers < 1)
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidServerCount, "A k3d cluster needs at least one server.", spec.Servers);
        }
        if (spec.ApiPort is { Length: > 0 } api && !System.Text.RegularExpressions.Regex.IsMatch(api, @"^(?:[^:\s]+:)?\d{1,5}$"))
        {
            throw new K3dEtcdException(ErrorCatalog.InvalidApiPort, $"'{api}' is not an API port: use PORT or HOST:PORT (for example 6550 or 127.0.0.1:6550).", api);
        }
        foreach (var san in spec.TlsSan)
        {
            if (string.IsNullOrWhiteSpace(san) || san.Any(char.IsWhiteSpace) || san.Contains(','))
            {
                throw new K3dEtcdException(ErrorCatalog.InvalidTlsSan, $"'{san}' is not a host name or IP address for the API server certificate.", san);
            }
        }
    }
}
