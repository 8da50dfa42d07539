using System.Security.Cryptography;
using System.Text;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;
using K3dEtcd.Clusters;

namespace K3dEtcd.K3d;

/// <summary>
/// Probes a datastore the way a k3s server will use it: etcdctl in a short-lived container on the
/// datastore's Docker network, with the same endpoint, the same TLS files mounted read-only at the
/// same in-container paths, hence the same client identity.
/// </summary>
public sealed class DatastoreProbe(DockerAdapter docker, IOperationLog log)
{
    public DatastoreProbe(DockerConnection docker, IOperationLog log) : this(new DockerAdapter(docker, log), log) { }

    public const string ProbeLabel = Labels.Prefix + "probe";
    public const string ScratchPrefix = "/k3detcd/probe/";

    /// <summary>The key k3s keeps its bootstrap data under for a token: /bootstrap/ + 12 hex of sha256(passphrase) (K3sToken).</summary>
    public static string BootstrapKey(string token) => K3sToken.BootstrapKey(token);

    // New-K3dCluster's -Image is the k3s image, so name what picks the probe's etcd image there.
    private static string WhatWorks(string image) =>
        $"Pull it (docker pull {image}), or set {EtcdClusterSpec.ImageEnvironmentVariable} to an etcd image that is present (one with /usr/local/bin/etcdctl; " +
        "Test-K3dDatastore also takes it as -Image), or leave the probe out with New-K3dCluster -SkipPreflight -SkipVerify.";

    public static string ImageFor(DatastoreTarget ds) => ds.ProbeImage is { Length: > 0 } i ? i : EtcdClusterSpec.DefaultImage();

    /// <summary>The etcdctl command line the probe runs (also what a user can paste to debug by hand).</summary>
    public static List<string> EtcdctlCommand(DatastoreTarget ds, IEnumerable<string> args)
    {
        var cmd = new List<string> { "/usr/local/bin/etcdctl", "--endpoints", string.Join(",", ds.EtcdEndpoints), "--dial-timeout=3s", "--command-timeout=5s" };
        if (ds.CaFile is not null) cmd.AddRange(["--cacert", DatastoreTarget.ContainerCaFile]);
        if (ds.CertFile is not null) cmd.AddRange(["--cert", DatastoreTarget.ContainerCertFile]);
        if (ds.KeyFile is not null) cmd.AddRange(["--key", DatastoreTarget.ContainerKeyFile]);
        cmd.AddRange(args);
        return cmd;
    }

    public async Task<(long ExitCode, string Output)> RunEtcdctlAsync(DatastoreTarget ds, IReadOnlyList<string> args, CancellationToken ct)
    {
        var image = ImageFor(ds);
        var network = string.IsNullOrEmpty(ds.Network) ? "bridge" : ds.Network;
        var cmd = EtcdctlCommand(ds, args);
        var binds = ds.Mounts().Select(m => $"{Path.GetFullPath(m.Host)}:{m.Container}:ro").ToList();
        log.Verbose($"docker run --rm --network {network} {string.Join(' ', binds.Select(b => "-v " + b))} {image} {string.Join(' ', cmd.Select(c => c.StartsWith("--endpoints", StringComparison.Ordinal) ? c : K3dDatastore.Mask(c)))}");
        try
        {
            var (exit, output) = await docker.RunToCompletionAsync(new ContainerSpec
            {
                Image = image,
                Command = cmd,
                Environment = ["ETCDCTL_API=3"],
                Labels = new Dictionary<string, string> { [ProbeLabel] = "datastore" },
                Network = network,
                Binds = binds,
            }, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            return (exit, output.Replace(Environment.NewLine, "\n").Trim());
        }
        catch (DockerOperationException ex) when (ex.IsImageNotFound)
        {
            throw new K3dEtcdException(ErrorCatalog.ProbeImageNotFound,
                $"The probe image '{image}' (an etcd image, for its etcdctl) is not present. {WhatWorks(image)}", image, ex);
        }
        catch (DockerOperationException ex) when (ex.IsNotFound && ex.DockerMessage.Contains("network", StringComparison.OrdinalIgnoreCase))
        {
            return (-1, $"the probe could not join Docker network '{network}': {ex.DockerMessage}");
        }
        catch (DockerOperationException ex) when (ex.IsNotFound)
        {
            throw new K3dEtcdException(ErrorCatalog.ProbeImageNotFound,
                $"The probe container could not be created: {ex.DockerMessage}. Is the etcd image '{image}' present? {WhatWorks(image)}", image, ex);
        }
    }

    /// <summary>
    /// Health, write, read-back and the /bootstrap token question; one result per check. Without
    /// <paramref name="token"/>, the tokens in <paramref name="kept"/> (kept by New-K3dCluster for this
    /// etcd cluster's k3d clusters) are tried on the bootstrap data.
    /// </summary>
    public async Task<IReadOnlyList<K3dDatastoreCheck>> TestAsync(DatastoreTarget ds, string? token, CancellationToken ct,
        IReadOnlyList<(string K3dName, string Token)>? kept = null)
    {
        var shown = ds.Masked;
        K3dDatastoreCheck Check(string name, bool passed, string detail) => new() { Name = name, Passed = passed, Detail = detail, Datastore = shown };
        if (ds.Kind != DatastoreKind.Etcd)
        {
            throw new K3dEtcdException(ErrorCatalog.DatastoreProbeNotSupported,
                $"Test-K3dDatastore probes etcd datastores (with etcdctl); '{shown}' is {ds.Kind}. Check it with that database's own client.", shown);
        }
        var results = new List<K3dDatastoreCheck>();
        const string activity = "Probing the datastore from inside Docker";
        void Step(string s, int pct) => log.Progress(new OperationProgress(activity, s, pct, ActivityId: 3));

        Step("endpoint health", 0);
        var (healthExit, healthOut) = await RunEtcdctlAsync(ds, ["endpoint", "health"], ct).ConfigureAwait(false);
        var endpoints = ds.EtcdEndpoints;
        var healthy = endpoints.Where(e => healthOut.Contains($"{e} is healthy", StringComparison.Ordinal)).ToList();
        var unhealthy = healthOut.Split('\n').Where(l => l.Contains(" is unhealthy", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
        var healthDetail = healthExit == -1 ? healthOut
            : $"{healthy.Count}/{endpoints.Length} endpoints healthy from network '{ds.Network ?? "bridge"}'"
              + (unhealthy.Count > 0 ? "; " + string.Join("; ", unhealthy) : healthy.Count < endpoints.Length ? "; " + Short(healthOut) : "");
        results.Add(Check("Health", healthExit == 0 && healthy.Count == endpoints.Length, healthDetail));

        if (healthy.Count == 0)
        {
            foreach (var name in new[] { "Write", "ReadBack", "Bootstrap" }) results.Add(Check(name, false, "not tried: no endpoint is healthy"));
            log.Progress(new OperationProgress(activity, "Done", 100, ActivityId: 3, Completed: true));
            return results;
        }

        var key = ScratchPrefix + Guid.NewGuid().ToString("N");
        var value = $"k3detcd probe {DateTime.UtcNow:o}";
        Step("write", 25);
        var (putExit, putOut) = await RunEtcdctlAsync(ds, ["put", key, value], ct).ConfigureAwait(false);
        var wrote = putExit == 0 && putOut.Contains("OK", StringComparison.Ordinal);
        results.Add(Check("Write", wrote, wrote ? $"put {key}" : $"put {key} failed: {Short(putOut)}"));

        Step("read back", 50);
        var (getExit, getOut) = await RunEtcdctlAsync(ds, ["get", key, "--print-value-only"], ct).ConfigureAwait(false);
        var readBack = getExit == 0 && getOut.Trim() == value;
        var cleanup = "";
        if (wrote)
        {
            var (delExit, delOut) = await RunEtcdctlAsync(ds, ["del", key], ct).ConfigureAwait(false);
            cleanup = delExit == 0 ? "; scratch key deleted" : $"; could not delete the scratch key: {Short(delOut)}";
        }
        results.Add(Check("ReadBack", readBack, (readBack ? $"read the same value back from {key}" : $"get {key} returned {(getExit == 0 ? $"'{Short(getOut)}'" : Short(getOut))}") + cleanup));

        Step("bootstrap data", 75);
        // Keys and values in one read (JSON: base64 keys and values, whatever bytes they hold); the values are only decrypted, never shown.
        var (bootExit, bootOut) = await RunEtcdctlAsync(ds, ["get", "/bootstrap/", "--prefix", "-w", "json"], ct).ConfigureAwait(false);
        var entries = bootExit == 0 ? ParseGetJson(bootOut) : null;
        if (entries is null)
        {
            results.Add(Check("Bootstrap", false, $"could not read /bootstrap/: {(bootExit == 0 ? "etcdctl printed no JSON" : Short(bootOut))}"));
        }
        else
        {
            var candidates = token is not null ? [(null, token)] : (kept ?? []).Select(k => ((string?)k.K3dName, k.Token)).ToList();
            results.Add(EvaluateBootstrap(entries, candidates, token is not null, shown));
        }
        log.Progress(new OperationProgress(activity, "Done", 100, ActivityId: 3, Completed: true));
        return results;
    }

    /// <summary>The key/value pairs of `etcdctl get -w json` (null when the output is not that JSON).</summary>
    public static IReadOnlyList<(string Key, byte[] Value)>? ParseGetJson(string output)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(output);
            var list = new List<(string, byte[])>();
            if (doc.RootElement.TryGetProperty("kvs", out var kvs))
            {
                foreach (var kv in kvs.EnumerateArray())
                {
                    var key = Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("key").GetString() ?? ""));
                    var value = kv.TryGetProperty("value", out var v) ? Convert.FromBase64String(v.GetString() ?? "") : [];
                    list.Add((key, value));
                }
            }
            return list;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The Bootstrap check: passed when there is no bootstrap data, or when a candidate token's key
    /// (/bootstrap/ + 12 hex of sha256) is there and its value decrypts with that token. A candidate's
    /// label is the k3d cluster whose kept token it is (null: the -Token given).
    /// </summary>
    public static K3dDatastoreCheck EvaluateBootstrap(IReadOnlyList<(string Key, byte[] Value)> entries, IReadOnlyList<(string? K3dName, string Token)> candidates, bool explicitToken, string shown)
    {
        K3dDatastoreCheck Check(bool passed, string detail) => new() { Name = "Bootstrap", Passed = passed, Detail = detail, Datastore = shown };
        var keys = entries.Select(e => e.Key).Where(k => k.StartsWith("/bootstrap/", StringComparison.Ordinal)).ToList();
        if (keys.Count == 0) return Check(true, "no k3s bootstrap data yet: a new k3s cluster will create it");
        var listed = string.Join(", ", keys);
        if (candidates.Count == 0)
        {
            return Check(false, $"holds k3s bootstrap data ({listed}) from an existing k3s cluster; a new cluster needs that cluster's token (-Token)");
        }
        var sealedButNotOpened = new List<string>();
        foreach (var (k3dName, token) in candidates)
        {
            var key = BootstrapKey(token);
            var entry = entries.FirstOrDefault(e => e.Key == key);
            if (entry.Key is null) continue;
            var plain = K3sToken.TryDecrypt(token, entry.Value);
            if (plain is not null)
            {
                var whose = k3dName is null ? "this token" : $"the token kept for k3d cluster '{k3dName}'";
                return Check(true, $"holds bootstrap data under {key} and {whose} opens it ({plain.Length} bytes decrypted): k3s servers will join the existing k3s cluster state");
            }
            sealedButNotOpened.Add(key);
        }
        if (explicitToken)
        {
            var mine = BootstrapKey(candidates[0].Token);
            return sealedButNotOpened.Count > 0
                ? Check(false, $"the token does not match: {mine} is there but its bootstrap data does not decrypt with this token (damaged, or not k3s's format): k3s would fail to read it")
                : Check(false, $"the token does not match: the bootstrap data was made with a different token ({listed}; this token's key would be {mine}): k3s would fail with \"bootstrap data already found and encrypted with different token\"");
        }
        var names = string.Join(", ", candidates.Select(c => $"'{c.K3dName}'"));
        return Check(false, $"holds k3s bootstrap data ({listed}) that none of the tokens kept for k3d cluster{(candidates.Count == 1 ? "" : "s")} {names} opens; a new cluster needs the token of the cluster that wrote it (-Token)");
    }

    /// <summary>Whether any key exists under /registry/ (what kube-apiserver writes once k3s really uses the datastore).</summary>
    public async Task<(bool Found, string Detail)> HasRegistryKeysAsync(DatastoreTarget ds, CancellationToken ct)
    {
        var (exit, output) = await RunEtcdctlAsync(ds, ["get", "/registry/", "--prefix", "--keys-only", "--limit", "3"], ct).ConfigureAwait(false);
        if (exit != 0) return (false, Short(output));
        var keys = output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("/registry/", StringComparison.Ordinal)).ToList();
        return (keys.Count > 0, keys.Count > 0 ? string.Join(", ", keys) : "no keys under /registry/");
    }

    private static string Short(string s)
    {
        var t = s.Replace('\n', ' ').Trim();
        return t.Length > 400 ? t[..400] + "..." : t;
    }
}
