using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

/// <summary>What Register-EtcdBackup schedules.</summary>
public sealed record BackupRequest(string Cluster, string Directory, TimeSpan Every, int Keep, string ModuleManifest, BackupHost Host,
    IReadOnlyDictionary<string, string?> Environment, IReadOnlyList<string> DockerHosts, string? DockerCertPath);

/// <summary>
/// Backup schedules: per cluster a job script (&lt;cluster&gt;.ps1), its definition
/// (&lt;cluster&gt;.schedule.json), the state each run writes (&lt;cluster&gt;.state.json) and the
/// last run's output (&lt;cluster&gt;.log) under the module's data home (…/k3detcd/backups), and one
/// tagged line in the user's crontab that runs the script with the pwsh the user registered from.
/// </summary>
public sealed class BackupScheduler(string root)
{
    /// <summary>$XDG_DATA_HOME/k3detcd/backups (~/.local/share/k3detcd/backups), beside the clusters' TLS folders.</summary>
    public static string DefaultRoot() => Path.Combine(Path.GetDirectoryName(Pki.ClusterTlsStore.DefaultRoot())!, "backups");

    public string Root => root;
    public string ScriptPath(string cluster) => Path.Combine(root, cluster + ".ps1");
    public string DefinitionPath(string cluster) => Path.Combine(root, cluster + ".schedule.json");
    public string StatePath(string cluster) => Path.Combine(root, cluster + ".state.json");
    public string LogPath(string cluster) => Path.Combine(root, cluster + ".log");

    /// <summary>The crontab line for the request (time fields, command, tag).</summary>
    public string CronLine(BackupRequest r)
    {
        var command = CommandText(r.Host, ScriptPath(r.Cluster));
        return $"{CronInterval.ToCron(r.Every)} {command} > {Sh(LogPath(r.Cluster))} 2>&1 {Crontab.Tag(r.Cluster)}";
    }

    private static string CommandText(BackupHost host, string script) =>
        string.Join(' ', new[] { host.Executable, host.Dll }.OfType<string>().Select(Sh)) + " -NoProfile -NonInteractive -File " + Sh(script);

    /// <summary>True when the crontab has a line for the cluster or its definition file exists.</summary>
    public bool Exists(string cluster, string crontab) =>
        Crontab.Tagged(crontab).ContainsKey(cluster) || File.Exists(DefinitionPath(cluster));

    /// <summary>
    /// Writes the job script and definition, then adds the crontab line (replacing the cluster's
    /// old line). If the crontab cannot be written, the files are put back as they were.
    /// </summary>
    public EtcdBackup Register(BackupRequest r, bool replace, IOperationLog log)
    {
        var cron = CronInterval.ToCron(r.Every);
        Crontab.EnsureAvailable();
        var current = Crontab.Read();
        if (Exists(r.Cluster, current) && !replace)
        {
            throw new K3dEtcdException(ErrorCatalog.BackupScheduleExists, $"The cluster '{r.Cluster}' already has a backup schedule; Unregister-EtcdBackup -Cluster {r.Cluster} first, or pass -Force to replace it.", r.Cluster);
        }
        CreatePrivateDirectory(root);
        var files = new[] { ScriptPath(r.Cluster), DefinitionPath(r.Cluster) };
        var before = files.ToDictionary(f => f, f => File.Exists(f) ? File.ReadAllBytes(f) : null);
        try
        {
            WritePrivate(ScriptPath(r.Cluster), JobScript(r));
            var definition = new JsonObject
            {
                ["Cluster"] = r.Cluster,
                ["Directory"] = r.Directory,
                ["Every"] = CronInterval.Text(r.Every),
                ["Keep"] = r.Keep,
                ["CronSchedule"] = cron,
                ["Registered"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
                ["Command"] = CommandText(r.Host, ScriptPath(r.Cluster)),
                ["Module"] = r.ModuleManifest,
            };
            WritePrivate(DefinitionPath(r.Cluster), definition.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var line = CronLine(r);
            Crontab.Write(Crontab.With(Crontab.Without(current, r.Cluster), line));
            log.Verbose($"crontab: added '{line}'.");
        }
        catch
        {
            foreach (var (file, bytes) in before)
            {
                try { if (bytes is null) File.Delete(file); else File.WriteAllBytes(file, bytes); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { log.Warning($"Could not put back {file}: {ex.Message}"); }
            }
            throw;
        }
        return Get(r.Cluster, Crontab.Read()) ?? throw new InvalidOperationException("The schedule just written cannot be read back.");
    }

    /// <summary>Removes the cluster's crontab line, then its job script, definition, state and log.</summary>
    public void Unregister(string cluster, IOperationLog log)
    {
        if (OperatingSystem.IsWindows()) Crontab.EnsureAvailable();
        var current = Crontab.FindOnPath("crontab") is null ? "" : Crontab.Read();
        var files = new[] { ScriptPath(cluster), DefinitionPath(cluster), StatePath(cluster), LogPath(cluster), StatePath(cluster) + ".lock" };
        var hasLine = Crontab.Tagged(current).ContainsKey(cluster);
        if (!hasLine && !files.Any(File.Exists))
        {
            throw new K3dEtcdException(ErrorCatalog.BackupScheduleNotFound, $"The cluster '{cluster}' has no backup schedule (Get-EtcdBackup lists them).", cluster);
        }
        if (hasLine)
        {
            Crontab.Write(Crontab.Without(current, cluster));
            log.Verbose($"crontab: removed the line tagged '{Crontab.Tag(cluster)}'.");
        }
        foreach (var f in files.Where(File.Exists))
        {
            File.Delete(f);
            log.Verbose($"Removed {f}.");
        }
    }

    /// <summary>Every schedule (crontab lines and definition files), or the one of <paramref name="cluster"/>.</summary>
    public IReadOnlyList<EtcdBackup> List(string? cluster, CancellationToken ct = default)
    {
        var crontab = OperatingSystem.IsWindows() || Crontab.FindOnPath("crontab") is null ? "" : Crontab.Read();
        var names = new SortedSet<string>(Crontab.Tagged(crontab).Keys, StringComparer.Ordinal);
        if (Directory.Exists(root))
        {
            foreach (var f in Directory.EnumerateFiles(root, "*.schedule.json")) names.Add(Path.GetFileName(f)[..^".schedule.json".Length]);
        }
        return names.Where(n => cluster is null || n == cluster).Select(n => Get(n, crontab, ct)).OfType<EtcdBackup>().ToList();
    }

    /// <summary>A warning text when the cluster's backup schedule (in the default data home) is overdue; null otherwise or when there is none.</summary>
    public static string? OverdueWarning(string cluster)
    {
        var scheduler = new BackupScheduler(DefaultRoot());
        if (!File.Exists(scheduler.DefinitionPath(cluster))) return null;
        var crontab = OperatingSystem.IsWindows() || Crontab.FindOnPath("crontab") is null ? "" : SafeRead();
        var b = scheduler.Get(cluster, crontab);
        if (b is null || !b.Overdue) return null;
        var newest = b.Newest is { } n ? $"the newest good snapshot is from {n:u}" : "there is no good snapshot";
        var last = b.LastResult is null ? "it has not run yet" : $"its last run ({b.LastRun:u}) {b.LastResult}{(b.LastError is null ? "" : ": " + b.LastError)}";
        return $"The backups of '{cluster}' are overdue: {newest}, more than two intervals ({CronInterval.Text(b.Every)}) ago; {last} (Get-EtcdBackup -Cluster {cluster}).";

        static string SafeRead()
        {
            try { return Crontab.Read(); } catch (K3dEtcdException) { return ""; }
        }
    }

    /// <summary>The schedule of one cluster as its files and the crontab show it (null: none).</summary>
    public EtcdBackup? Get(string cluster, string crontab, CancellationToken ct = default)
    {
        var tagged = Crontab.Tagged(crontab);
        var definition = ReadJson(DefinitionPath(cluster));
        if (definition is null && !tagged.ContainsKey(cluster)) return null;
        var state = ReadJson(StatePath(cluster));
        var directory = (string?)definition?["Directory"] ?? "";
        var every = TimeSpan.TryParse((string?)definition?["Every"], CultureInfo.InvariantCulture, out var e) ? e : TimeSpan.Zero;
        var registered = Time(definition?["Registered"]);
        var newest = directory.Length > 0 ? SnapshotRetention.NewestValid(directory, cluster, ct) : null;
        var reference = newest?.Time ?? registered;
        return new EtcdBackup
        {
            Cluster = cluster,
            Directory = directory,
            Every = every,
            Keep = (int?)definition?["Keep"] ?? 0,
            CronSchedule = (string?)definition?["CronSchedule"] ?? "",
            Scheduled = tagged.ContainsKey(cluster),
            Registered = registered,
            LastRun = Time(state?["Time"]),
            LastResult = (string?)state?["Result"],
            LastError = (string?)state?["Error"],
            LastErrorId = (string?)state?["ErrorId"],
            LastFile = (string?)state?["File"],
            Newest = newest?.Time,
            NewestFile = newest?.Path,
            Overdue = every > TimeSpan.Zero && reference is { } r && DateTime.UtcNow - r > 2 * every,
            JobScript = ScriptPath(cluster),
            StateFile = StatePath(cluster),
            Command = (string?)definition?["Command"] ?? "",
        };
    }

    private static DateTime? Time(JsonNode? node) =>
        node is not null && DateTime.TryParse((string?)node, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t.ToUniversalTime() : null;

    private static JsonNode? ReadJson(string path)
    {
        try { return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null; }
        catch (JsonException) { return null; }
        catch (IOException) { return null; }
    }

    /// <summary>
    /// The job cron runs: it sets the Docker engine the registering session used (its environment
    /// and Set-K3dEtcdOption), imports the module by its full path, runs Save-EtcdSnapshot
    /// -Directory -Keep and writes the outcome to the state file (atomically, keeping the last success).
    /// A lock file keeps two runs from overlapping.
    /// </summary>
    internal string JobScript(BackupRequest r)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Written by Register-EtcdBackup (K3dEtcd) for the cluster '{r.Cluster}'. Unregister-EtcdBackup -Cluster {r.Cluster} removes it and its crontab line.");
        sb.AppendLine("$ErrorActionPreference = 'Stop'");
        sb.AppendLine("$ProgressPreference = 'SilentlyContinue'");
        foreach (var (name, value) in r.Environment.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sb.AppendLine(value is null ? $"Remove-Item -LiteralPath Env:{name} -ErrorAction SilentlyContinue" : $"$env:{name} = {Ps(value)}");
        }
        sb.AppendLine($"$state = {Ps(StatePath(r.Cluster))}");
        sb.AppendLine($"$result = [ordered]@{{ Cluster = {Ps(r.Cluster)}; Time = [DateTime]::UtcNow.ToString('o'); Finished = $null; Result = 'Failed'; Error = $null; ErrorId = $null; File = $null; Revision = $null; Removed = @(); LastSuccess = $null; LastSuccessFile = $null }}");
        sb.AppendLine("try { $previous = Get-Content -LiteralPath $state -Raw -ErrorAction Stop | ConvertFrom-Json; $result.LastSuccess = $previous.LastSuccess; $result.LastSuccessFile = $previous.LastSuccessFile } catch { }");
        sb.AppendLine("$lock = $null");
        sb.AppendLine("try {");
        sb.AppendLine("    try { $lock = [IO.File]::Open(\"$state.lock\", 'OpenOrCreate', 'ReadWrite', 'None') } catch { $result.Result = 'Skipped'; throw 'The previous run is still going; this one was skipped.' }");
        sb.AppendLine($"    Import-Module {Ps(r.ModuleManifest)}");
        if (r.DockerHosts.Count > 0 || r.DockerCertPath is not null)
        {
            var hosts = r.DockerHosts.Count > 0 ? "-DockerHost " + string.Join(", ", r.DockerHosts.Select(Ps)) : "";
            var cert = r.DockerCertPath is not null ? " -DockerCertPath " + Ps(r.DockerCertPath) : "";
            sb.AppendLine($"    Set-K3dEtcdOption {hosts}{cert}".TrimEnd());
        }
        sb.AppendLine("    $removed = @()");
        sb.AppendLine($"    $snap = Save-EtcdSnapshot -Cluster {Ps(r.Cluster)} -Directory {Ps(r.Directory)} -Keep {r.Keep.ToString(CultureInfo.InvariantCulture)} -Verbose 4>&1 | ForEach-Object {{ if ($_ -is [System.Management.Automation.VerboseRecord]) {{ if ($_.Message -like 'Removed the older snapshot *') {{ $removed += $_.Message }} }} else {{ $_ }} }}");
        sb.AppendLine("    if (-not $snap) { throw 'Save-EtcdSnapshot returned no snapshot.' }");
        sb.AppendLine("    $result.Result = 'Succeeded'; $result.File = $snap.Path; $result.Revision = $snap.Revision; $result.Removed = $removed");
        sb.AppendLine("    $result.LastSuccess = $result.Time; $result.LastSuccessFile = $snap.Path");
        sb.AppendLine("} catch {");
        sb.AppendLine("    $result.Error = \"$($_.Exception.Message)\"");
        sb.AppendLine("    if ($_.FullyQualifiedErrorId) { $result.ErrorId = ($_.FullyQualifiedErrorId -split ',')[0] }");
        sb.AppendLine("} finally {");
        sb.AppendLine("    $result.Finished = [DateTime]::UtcNow.ToString('o')");
        sb.AppendLine("    $result | ConvertTo-Json -Depth 3 | Set-Content -LiteralPath \"$state.tmp\" -Encoding utf8NoBOM");
        sb.AppendLine("    Move-Item -LiteralPath \"$state.tmp\" -Destination $state -Force");
        sb.AppendLine("    if ($lock) { $lock.Dispose() }");
        sb.AppendLine("}");
        sb.AppendLine("if ($result.Result -ne 'Succeeded') { Write-Error $result.Error -ErrorAction Continue; exit 1 }");
        return sb.ToString();
    }

    /// <summary>A PowerShell single-quoted string.</summary>
    internal static string Ps(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>A POSIX-shell single-quoted word for a crontab line (cron turns an unescaped % into a newline).</summary>
    internal static string Sh(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal) + "'";

    private static void CreatePrivateDirectory(string dir)
    {
        if (Directory.Exists(dir)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WritePrivate(string path, string text)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var s = new FileStream(temp, options))
        using (var w = new StreamWriter(s, new UTF8Encoding(false)))
        {
            w.Write(text);
        }
        File.Move(temp, path, true);
    }
}
