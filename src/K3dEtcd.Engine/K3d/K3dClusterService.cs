using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>Options of a create that are not part of what k3d is asked to build.</summary>
public sealed record K3dCreateOptions
{
    public bool SkipPreflight { get; init; }
    /// <summary>Skip polling the datastore for /registry/ keys after k3d returns (needed with a k3d that runs no k3s).</summary>
    public bool SkipVerify { get; init; }
}

/// <summary>Creates, lists and deletes k3d clusters on an external datastore, with pre-flight, roll-back and verification.</summary>
public sealed partial class K3dClusterService(K3dCli cli, K3dVersion version, DatastoreProbe? probe, IOperationLog log)
{
    public K3dVersion Version => version;
    public K3dCli Cli => cli;

    public async Task<IReadOnlyList<K3dClusterInfo>> ListAsync(CancellationToken ct)
    {
        if (!version.SupportsJsonList)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dFeatureUnsupported,
                $"k3d {version} cannot list clusters as JSON (`k3d cluster list -o json` came in v3.4.0); upgrade k3d.", version.Text);
        }
        var result = await cli.RunCheckedAsync(["cluster", "list", "-o", "json"], ct).ConfigureAwait(false);
        return K3dClusterList.Parse(result.StandardOutput);
    }

    public async Task<K3dClusterInfo?> GetAsync(string name, CancellationToken ct) =>
        (await ListAsync(ct).ConfigureAwait(false)).FirstOrDefault(c => c.Name == name);

    public async Task DeleteAsync(string name, CancellationToken ct) =>
        await cli.RunCheckedAsync(["cluster", "delete", name], ct, name).ConfigureAwait(false);

    public async Task<string> GetKubeconfigAsync(string name, CancellationToken ct)
    {
        var result = await cli.RunCheckedAsync(["kubeconfig", "get", name], ct, name).ConfigureAwait(false);
        var text = result.StandardOutput.TrimStart();
        if (text.StartsWith("---", StringComparison.Ordinal)) text = text[3..].TrimStart('\r', '\n');
        return text;
    }

    /// <summary>The exact create arguments for this k3d (and a masked copy for display).</summary>
    public K3dArguments.Built BuildCreate(K3dClusterSpec spec) => BuildCreate(cli, version, spec);

    /// <summary>The exact create arguments for a k3d of that version (and a masked copy for display); needs no service (-WhatIf).</summary>
    public static K3dArguments.Built BuildCreate(K3dCli cli, K3dVersion version, K3dClusterSpec spec)
    {
        version.EnsureSupported(cli.Path);
        K3dArguments.ValidateSpec(spec);
        return K3dArguments.Create(spec, version);
    }

    /// <summary>
    /// Finds the containers of a k3d cluster by its `k3d.cluster` Docker label (every k3d version
    /// sets it; v3.0-v3.3 have no JSON list to ask). Set by callers that hold a Docker connection.
    /// </summary>
    public Func<string, CancellationToken, Task<IReadOnlyList<string>>>? NodeLookup { get; init; }

    /// <summary>Whether a k3d cluster of that name exists: k3d's JSON list where there is one, and its Docker label on every version.</summary>
    public async Task<bool> ExistsAsync(string name, CancellationToken ct)
    {
        if (version.SupportsJsonList && await GetAsync(name, ct).ConfigureAwait(false) is not null) return true;
        if (NodeLookup is not null && (await NodeLookup(name, ct).ConfigureAwait(false)).Count > 0) return true;
        return false;
    }

    /// <summary>Refuses a name that is taken (K3dClusterExists); nothing is created or changed.</summary>
    public async Task EnsureNameFreeAsync(string name, CancellationToken ct)
    {
        if (!version.SupportsJsonList && NodeLookup is null)
        {
            log.Warning($"k3d {version} cannot list clusters as JSON and no Docker connection was given: an existing cluster '{name}' cannot be detected before k3d runs.");
        }
        if (await ExistsAsync(name, ct).ConfigureAwait(false))
        {
            throw new K3dEtcdException(ErrorCatalog.K3dClusterExists,
                $"A k3d cluster named '{name}' already exists. Remove it first (Remove-K3dCluster {name}) or choose another name; nothing was changed.", name);
        }
    }

    public async Task<(K3dClusterInfo? Info, bool? Verified)> CreateAsync(K3dClusterSpec spec, K3dCreateOptions options, CancellationToken ct)
    {
        var built = BuildCreate(spec);
        await EnsureNameFreeAsync(spec.Name, ct).ConfigureAwait(false);
        if (!options.SkipPreflight) await PreflightAsync(spec, ct).ConfigureAwait(false);
        foreach (var w in built.Warnings) log.Warning(w);

        var activity = $"Creating k3d cluster '{spec.Name}'";
        var nodes = spec.Servers + spec.Agents + 1;
        var steps = 0;
        void OnLine(string line, bool isError)
        {
            var parsed = K3dLogLine.Parse(line);
            var text = parsed?.Message ?? K3dLogLine.Clean(line).Trim();
            if (text.Length == 0) return;
            log.Verbose($"k3d: {text}");
            if (parsed is { Level: "info" } && CreateStep().IsMatch(parsed.Message)) steps++;
            if (parsed is { Level: "info" }) log.Progress(new OperationProgress(activity, parsed.Message, Math.Min(95, 100 * steps / (2 * nodes + 4))));
        }

        K3dResult? result = null;
        string? configDirectory = null;
        try
        {
            if (built.ConfigContent is not null)
            {
                (configDirectory, var configPath) = K3dConfigFile.Write(built.ConfigContent);
                built = K3dArguments.Create(spec, version, configPath);
                log.Verbose($"k3d config {configPath} (private, removed when k3d returns): {built.ConfigDisplay}");
            }
            result = await cli.RunAsync(built.Arguments, ct, OnLine, string.Join(' ', built.Display)).ConfigureAwait(false);
            K3dConfigFile.Remove(configDirectory, log);
            configDirectory = null;
            if (result.ExitCode != 0)
            {
                if (result.ErrorText.Contains("a cluster with that name already exists", StringComparison.OrdinalIgnoreCase))
                {
                    // Another cluster took the name after our check: it is not ours to delete.
                    throw new K3dEtcdException(ErrorCatalog.K3dClusterExists,
                        $"k3d refused to create '{spec.Name}': a cluster with that name already exists (made meanwhile). Nothing was changed. k3d said:{Environment.NewLine}{result.ErrorText}", spec.Name);
                }
                throw new K3dEtcdException(ErrorCatalog.K3dCreateFailed,
                    $"k3d could not create cluster '{spec.Name}' (exit code {result.ExitCode}); it was rolled back and the datastore was not touched. k3d said:{Environment.NewLine}{result.ErrorText}", spec.Name);
            }
            log.Progress(new OperationProgress(activity, "Checking that k3s uses the datastore", 96));
            bool? verified = null;
            if (!options.SkipVerify && spec.Datastore.Kind == DatastoreKind.Etcd && probe is not null)
            {
                await VerifyRegistryAsync(spec, ct).ConfigureAwait(false);
                verified = true;
            }
            var info = version.SupportsJsonList ? await GetAsync(spec.Name, ct).ConfigureAwait(false) : null;
            log.Progress(new OperationProgress(activity, "Done", 100, Completed: true));
            return (info, verified);
        }
        catch (K3dEtcdException ex) when (ex.ErrorId == ErrorCatalog.K3dClusterExists.Id)
        {
            throw;
        }
        catch (Exception ex) when (ex is K3dEtcdException or OperationCanceledException)
        {
            log.Progress(new OperationProgress(activity, "Rolling back", 100, Completed: true));
            await RollbackAsync(spec).ConfigureAwait(false);
            throw;
        }
        finally
        {
            // Also after a failure or Ctrl+C: the file holds the token.
            K3dConfigFile.Remove(configDirectory, log);
        }
    }

    [GeneratedRegex(@"^(Creating node|Creating LoadBalancer|Starting Node|Created network|Re-using existing network|Created image volume|Injecting records)")]
    private static partial Regex CreateStep();

    private async Task PreflightAsync(K3dClusterSpec spec, CancellationToken ct)
    {
        if (spec.Datastore.Kind != DatastoreKind.Etcd || probe is null)
        {
            log.Warning($"No pre-flight probe for a {spec.Datastore.Kind} datastore (the probe speaks etcd); k3s will find out when it starts.");
            return;
        }
        var checks = await probe.TestAsync(spec.Datastore, spec.Token, ct).ConfigureAwait(false);
        var health = checks.First(c => c.Name == "Health");
        var failed = checks.Where(c => !c.Passed && c.Name != "Health").ToList();
        var bootstrap = checks.FirstOrDefault(c => c.Name == "Bootstrap");
        if (bootstrap is { Passed: false } && bootstrap.Detail.Contains("/bootstrap/", StringComparison.Ordinal))
        {
            throw new K3dEtcdException(ErrorCatalog.DatastoreTokenMismatch,
                $"The datastore '{spec.Datastore.Masked}' already holds k3s bootstrap data made with another token: {bootstrap.Detail}. " +
                "Two ways out: pass -Token with the token of the k3s cluster that wrote it (to re-create that cluster on its data; " +
                "Get-K3dCluster NAME -IncludeToken returns the token K3dEtcd kept for a k3d cluster, and Save-EtcdSnapshot's K3dClusters names whose data a snapshot holds), " +
                "or start from an empty datastore (a new etcd cluster, or delete the old cluster's keys: /bootstrap/ and /registry/). Nothing was created.", spec.Name);
        }
        if (failed.Count > 0 || health.Detail.StartsWith("0/", StringComparison.Ordinal))
        {
            throw new K3dEtcdException(ErrorCatalog.DatastorePreflightFailed,
                $"The pre-flight probe of '{spec.Datastore.Masked}' failed, so k3s servers could not use it; nothing was created. " +
                string.Join(" ", checks.Where(c => !c.Passed).Select(c => $"[{c.Name}] {c.Detail}")) + " (Test-K3dDatastore shows the same checks; -SkipPreflight skips them.)", spec.Name);
        }
        if (!health.Passed) log.Warning($"Datastore pre-flight: {health.Detail}. Writes work, so k3s can start; check the unhealthy members.");
        log.Verbose($"Datastore pre-flight passed: {string.Join("; ", checks.Select(c => $"{c.Name}: {c.Detail}"))}");
    }

    private async Task VerifyRegistryAsync(K3dClusterSpec spec, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(spec.Timeout);
        var detail = "";
        try
        {
            while (true)
            {
                (var found, detail) = await probe!.HasRegistryKeysAsync(spec.Datastore, deadline.Token).ConfigureAwait(false);
                if (found)
                {
                    log.Verbose($"k3s writes to the datastore: {detail}");
                    return;
                }
                await Task.Delay(TimeSpan.FromSeconds(2), deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(ErrorCatalog.DatastoreNotUsed,
                $"k3d created cluster '{spec.Name}', but no key appeared under /registry/ in '{spec.Datastore.Masked}' within {spec.Timeout.TotalSeconds:0} s ({detail}): " +
                "the k3s servers are not using this datastore (wrong endpoint, or k3s fell back to its embedded store). The cluster was rolled back.", spec.Name);
        }
    }

    private async Task RollbackAsync(K3dClusterSpec spec)
    {
        // Never with the caller's token: roll-back must finish after Ctrl+C too. The datastore is never touched.
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        log.Verbose($"Rolling back: k3d cluster delete {spec.Name}");
        try
        {
            var result = await cli.RunAsync(["cluster", "delete", spec.Name], cts.Token).ConfigureAwait(false);
            if (result.ExitCode != 0) log.Warning($"Roll-back: `k3d cluster delete {spec.Name}` failed: {result.ErrorText}");
        }
        catch (Exception ex) when (ex is K3dEtcdException or OperationCanceledException)
        {
            log.Warning($"Roll-back: `k3d cluster delete {spec.Name}` did not finish: {ex.Message}");
        }
    }

    /// <summary>The kubeconfig file that holds context k3d-NAME: $KUBECONFIG's or ~/.kube/config, else k3d's own per-cluster file.</summary>
    public static string? FindKubeconfig(string name)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } kc) candidates.AddRange(kc.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        else candidates.Add(Path.Combine(home, ".kube", "config"));
        candidates.Add(Path.Combine(home, ".config", "k3d", $"kubeconfig-{name}.yaml"));
        foreach (var path in candidates)
        {
            try
            {
                if (File.Exists(path) && File.ReadAllText(path).Contains($"k3d-{name}", StringComparison.Ordinal)) return path;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }
}
