using System.Text;
using System.Text.RegularExpressions;
using CliWrap;
using K3dEtcd.Common;

namespace K3dEtcd.K3d;

/// <summary>The result of one k3d run.</summary>
public sealed record K3dResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The lines that explain a failure: k3d's error/fatal log lines, else all of stderr.</summary>
    public string ErrorText
    {
        get
        {
            var lines = K3dLogLine.Clean(StandardError).Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
            var errors = lines.Where(l => K3dLogLine.Parse(l) is { Level: "error" or "fatal" or "panic" } || l.StartsWith("Error:", StringComparison.Ordinal)).ToList();
            return string.Join(Environment.NewLine, errors.Count > 0 ? errors : lines).Trim();
        }
    }
}

/// <summary>One k3d log line (logrus text format, colored `INFO[0001] msg` or plain `level=info msg="..."`).</summary>
public sealed partial record K3dLogLine(string Level, string Message)
{
    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Ansi();

    [GeneratedRegex(@"^(?<lvl>INFO|WARN|ERRO|FATA|DEBU|TRAC|PANI)\[\d+\]\s*(?<msg>.*?)\s*$")]
    private static partial Regex Colored();

    [GeneratedRegex(@"level=(?<lvl>\w+)\s+msg=""(?<msg>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Plain();

    public static string Clean(string text) => Ansi().Replace(text, "");

    public static K3dLogLine? Parse(string line)
    {
        line = Clean(line);
        var m = Colored().Match(line);
        if (m.Success)
        {
            var level = m.Groups["lvl"].Value switch { "INFO" => "info", "WARN" => "warning", "ERRO" => "error", "FATA" => "fatal", "DEBU" => "debug", "TRAC" => "trace", _ => "panic" };
            return new K3dLogLine(level, m.Groups["msg"].Value);
        }
        m = Plain().Match(line);
        return m.Success ? new K3dLogLine(m.Groups["lvl"].Value, Regex.Unescape(m.Groups["msg"].Value)) : null;
    }
}

/// <summary>Runs the k3d CLI with argument arrays (never through a shell).</summary>
public sealed class K3dCli(string path, IOperationLog log, IReadOnlyDictionary<string, string?>? environment = null)
{
    public const string EnvironmentVariable = "K3DETCD_K3D_PATH";

    public string Path { get; } = path;

    /// <summary>-K3dPath, else $K3DETCD_K3D_PATH, else the first k3d on PATH.</summary>
    public static string Locate(string? explicitPath)
    {
        if (!string.IsNullOrEmpty(explicitPath))
        {
            var full = System.IO.Path.GetFullPath(explicitPath);
            if (File.Exists(full)) return full;
            throw new K3dEtcdException(ErrorCatalog.K3dNotFound, $"k3d was not found at '{explicitPath}'.", explicitPath);
        }
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env && File.Exists(env)) return System.IO.Path.GetFullPath(env);
        var names = OperatingSystem.IsWindows() ? new[] { "k3d.exe", "k3d" } : ["k3d"];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in names)
            {
                var candidate = System.IO.Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new K3dEtcdException(ErrorCatalog.K3dNotFound,
            "k3d was not found on PATH. Install it (https://k3d.io/#installation) or pass -K3dPath.", "k3d");
    }

    /// <summary>Runs k3d; each output line goes to <paramref name="onLine"/> as it arrives. Non-zero exits are returned, not thrown.</summary>
    public async Task<K3dResult> RunAsync(IReadOnlyList<string> args, CancellationToken ct, Action<string, bool>? onLine = null, string? display = null)
    {
        log.Verbose($"{Path} {display ?? string.Join(' ', args)}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        try
        {
            var result = await Cli.Wrap(Path)
                .WithArguments(args)
                .WithValidation(CommandResultValidation.None)
                .WithEnvironmentVariables(environment ?? new Dictionary<string, string?>())
                .WithStandardOutputPipe(PipeTarget.ToDelegate(l => { lock (stdout) stdout.AppendLine(l); onLine?.Invoke(l, false); }))
                .WithStandardErrorPipe(PipeTarget.ToDelegate(l => { lock (stderr) stderr.AppendLine(l); onLine?.Invoke(l, true); }))
                .ExecuteAsync(ct).ConfigureAwait(false);
            return new K3dResult(result.ExitCode, stdout.ToString(), stderr.ToString());
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dNotRunnable, $"k3d at '{Path}' could not be started: {ex.Message}", Path, ex);
        }
    }

    /// <summary>Runs k3d and throws K3dCommandFailed (with k3d's own error lines) on a non-zero exit.</summary>
    public async Task<K3dResult> RunCheckedAsync(IReadOnlyList<string> args, CancellationToken ct, object? target = null)
    {
        var result = await RunAsync(args, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dCommandFailed,
                $"`k3d {string.Join(' ', args.Take(2))}` failed (exit code {result.ExitCode}): {result.ErrorText}", target ?? string.Join(' ', args));
        }
        return result;
    }

    public async Task<K3dVersion> GetVersionAsync(CancellationToken ct)
    {
        var text = await RunAsync(["version"], ct).ConfigureAwait(false);
        if (text.ExitCode != 0)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dVersionUnknown, $"`{Path} version` failed (exit code {text.ExitCode}): {text.ErrorText}", Path);
        }
        var version = K3dVersion.ParseText(text.StandardOutput + text.StandardError);
        if (version.SupportsJsonVersion)
        {
            // v5.5+ also answers in JSON; prefer it when it answers (it is the stable format).
            var json = await RunAsync(["version", "-o", "json"], ct).ConfigureAwait(false);
            if (json.ExitCode == 0 && json.StandardOutput.TrimStart().StartsWith('{')) version = K3dVersion.ParseJson(json.StandardOutput);
        }
        log.Verbose($"k3d {version.Text} (k3s {version.K3sVersion ?? "unknown"}) at {Path}");
        return version;
    }
}
