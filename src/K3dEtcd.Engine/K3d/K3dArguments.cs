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
    public const string EtcdClusterLabel = Clusters.Labels.UsedBy;

    /// <summary>
    /// The arguments, and the same arguments with secrets masked for display. With k3d v5 the
    /// token and the K3S_DATASTORE_* variables go into a config file instead of argv
    /// (<see cref="ConfigContent"/>, written by the caller to the path given to <see cref="Create"/>).
    /// </summary>
    public sealed record Built(IReadOnlyList<string> Arguments, IReadOnlyList<string> Display, IReadOnlyList<string> Warnings,
        string? ConfigContent = null, string? ConfigDisplay = null, string? ConfigApiVersion = null);

    /// <summary>Shown in -WhatIf where the private config file's path will be (it is made only when k3d runs).</summary>
    public const string ConfigPathPlaceholder = "<private k3d config file>";

    /// <summary>
    /// The config apiVersion this k3d reads natively: v5.0-v5.2 k3d.io/v1alpha3, v5.3-v5.4 v1alpha4,
    /// v5.5+ v1alpha5 (newer k3d migrates older ones, but warns). Null before v5: v4's formats
    /// (v1alpha1 with clusterToken, then v1alpha2) are not written by this module.
    /// </summary>
    public static string? ConfigApiVersion(K3dVersion version) =>
        version.Syntax != K3dSyntax.V5 ? null
        : version.Number < new Version(5, 3, 0) ? "k3d.io/v1alpha3"
        : version.Number < new Version(5, 5, 0) ? "k3d.io/v1alpha4"
        : "k3d.io/v1alpha5";

    /// <summary>k3d reads an unescaped '@' as the start of a node filter.</summary>
    public static string EscapeAt(string value) => value.Replace("@", "\\@", StringComparison.Ordinal);

    public static string Filtered(string value, K3dVersion version) => $"{EscapeAt(value)}@{version.AllServersFilter}";

    /// <summary>Host paths as k3d wants them in --volume: forward slashes (older k3d misreads C:\).</summary>
    public static string VolumePath(string hostPath) => Path.GetFullPath(hostPath).Replace('\\', '/');

    public static Built Create(K3dClusterSpec spec, K3dVersion version, string? configPath = null)
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
        var ds = spec.Datastore;
        var serverArgs = new List<(string Arg, string Shown)>();
        string? configContent = null, configDisplay = null;
        var apiVersion = ConfigApiVersion(version);
        if (apiVersion is not null)
        {
            // k3d v5 reads --config: the token and the datastore (a DSN may hold a password) stay out
            // of argv, which every user of the machine can read in the process list while k3d runs.
            // JSON is YAML, so k3d's YAML reader takes it; node filters are a list, so no '@' escaping.
            Add("--config"); Add(configPath ?? ConfigPathPlaceholder);
            string Render(string token, Func<string, string> value) => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["apiVersion"] = apiVersion,
                ["kind"] = "Simple",
                ["token"] = token,
                ["env"] = ds.EnvironmentVariables().Select(e => new Dictionary<string, object>
                {
                    ["envVar"] = $"{e.Key}={value(e.Value)}",
                    ["nodeFilters"] = new[] { version.AllServersFilter },
                }).ToList(),
            }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            configContent = Render(spec.Token, v => v);
            configDisplay = Render("***", K3dDatastore.Mask);
        }
        else
        {
            Add("--token"); Add(spec.Token, "***");
            warnings.Add($"k3d {version} reads no config file this module writes, so the k3s token{(version.SupportsEnvironment ? " and the datastore endpoint (with any password in it)" : "")} are k3d arguments: any user of this machine can read them in the process list while k3d runs. k3d v5 keeps them in a private file.");
        }
        if (apiVersion is not null)
        {
            // The K3S_DATASTORE_* variables are in the config file.
        }
        else if (version.SupportsEnvironment)
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
        return new Built(args, display, warnings, configContent, configDisplay, apiVersion);
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
