using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Operations;

/// <summary>How a job calls the pwsh the user runs now: its executable and, for pwsh as a dotnet tool, the pwsh.dll dotnet runs.</summary>
public sealed record BackupHost(string Executable, string? Dll)
{
    /// <summary>
    /// The running pwsh: Environment.ProcessPath, or, when that is dotnet (pwsh as a dotnet tool,
    /// `dotnet pwsh`), dotnet plus the pwsh.dll in GetCommandLineArgs()[0].
    /// </summary>
    public static BackupHost Current()
    {
        var process = Environment.ProcessPath;
        if (string.IsNullOrEmpty(process) || !File.Exists(process))
        {
            throw new K3dEtcdException(ErrorCatalog.BackupHostUnknown, "The path of the running pwsh is unknown (Environment.ProcessPath is empty), so no scheduled job could start it.");
        }
        if (string.Equals(Path.GetFileNameWithoutExtension(process), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            var args = Environment.GetCommandLineArgs();
            var dll = args.Length > 0 ? args[0] : "";
            if (!dll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || !File.Exists(dll))
            {
                throw new K3dEtcdException(ErrorCatalog.BackupHostUnknown, $"pwsh runs under {process} but its pwsh.dll is not known (first argument '{dll}'), so no scheduled job could start it.");
            }
            return new BackupHost(process, Path.GetFullPath(dll));
        }
        return new BackupHost(process, null);
    }
}

/// <summary>Maps an interval to cron's time fields; only intervals cron repeats exactly are accepted.</summary>
public static class CronInterval
{
    /// <summary>Every interval cron repeats exactly: minutes dividing 60, hours dividing 24, 1 day, 7 days (cron cannot repeat every N days across month ends).</summary>
    public static IReadOnlyList<TimeSpan> Valid { get; } =
        new[] { 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 }.Select(m => TimeSpan.FromMinutes(m))
        .Concat(new[] { 1, 2, 3, 4, 6, 8, 12 }.Select(h => TimeSpan.FromHours(h)))
        .Concat([TimeSpan.FromDays(1), TimeSpan.FromDays(7)]).ToList();

    public static string ToCron(TimeSpan every)
    {
        if (!Valid.Contains(every))
        {
            var below = Valid.Where(v => v < every).Select(v => (TimeSpan?)v).LastOrDefault();
            var above = Valid.Where(v => v > every).Select(v => (TimeSpan?)v).FirstOrDefault();
            var nearest = string.Join(" or ", new[] { below, above }.OfType<TimeSpan>().Select(Text));
            throw new K3dEtcdException(ErrorCatalog.BackupIntervalInvalid,
                $"cron cannot run every {Text(every)} exactly (it repeats in whole minutes dividing an hour, hours dividing a day, a day or a week); the nearest valid intervals are {nearest}.", every);
        }
        if (every < TimeSpan.FromHours(1)) return every.TotalMinutes == 1 ? "* * * * *" : $"*/{(int)every.TotalMinutes} * * * *";
        if (every < TimeSpan.FromDays(1)) return every.TotalHours == 1 ? "0 * * * *" : $"0 */{(int)every.TotalHours} * * *";
        return every == TimeSpan.FromDays(1) ? "0 0 * * *" : "0 0 * * 0";
    }

    public static string Text(TimeSpan t) => t.ToString(t.Days > 0 ? @"d\.hh\:mm\:ss" : @"hh\:mm\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// The current user's crontab, read with `crontab -l` and written with `crontab -` (stdin: nothing
/// on argv). Only lines ending in the module's tag (<c># k3detcd-backup &lt;cluster&gt;</c>) are
/// ever added or removed; every other line is written back exactly as it was read.
/// </summary>
public sealed class Crontab
{
    public const string TagPrefix = "# k3detcd-backup ";

    public static string Tag(string cluster) => TagPrefix + cluster;

    /// <summary>Refuses when crontab is missing or (on Linux, where /proc tells) no cron daemon runs.</summary>
    public static void EnsureAvailable()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new K3dEtcdException(ErrorCatalog.BackupSchedulerNotSupported, "Scheduled backups use cron, which Windows does not have; Task Scheduler is not supported yet. Run Save-EtcdSnapshot -Directory -Keep from a task you create yourself.");
        }
        if (FindOnPath("crontab") is null)
        {
            throw new K3dEtcdException(ErrorCatalog.CronNotInstalled, "The crontab command is not installed, so no schedule can be registered: install cron (Debian/Ubuntu: sudo apt-get install cron; Fedora: sudo dnf install cronie) and start its daemon.");
        }
        if (OperatingSystem.IsLinux() && Directory.Exists("/proc/self") && !CronDaemonRuns())
        {
            throw new K3dEtcdException(ErrorCatalog.CronNotRunning, "No cron daemon (cron or crond) runs on this machine, so a schedule would never fire: start it (sudo systemctl enable --now cron, or sudo cron where there is no systemd), then register again.");
        }
    }

    private static bool CronDaemonRuns()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!char.IsAsciiDigit(Path.GetFileName(dir)[0])) continue;
            try
            {
                var comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                if (comm is "cron" or "crond" or "cronie" or "busybox" && (comm != "busybox" || File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("crond", StringComparison.Ordinal))) return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return false;
    }

    internal static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The crontab's text ("" when the user has none).</summary>
    public static string Read()
    {
        var (code, output, error) = Run(["-l"], null);
        if (code == 0) return output;
        if (error.Contains("no crontab", StringComparison.OrdinalIgnoreCase)) return "";
        throw new K3dEtcdException(ErrorCatalog.CrontabFailed, $"crontab -l failed (exit {code}): {error.Trim()}");
    }

    public static void Write(string text)
    {
        var (code, _, error) = Run(["-"], text);
        if (code != 0) throw new K3dEtcdException(ErrorCatalog.CrontabFailed, $"crontab - failed (exit {code}): {error.Trim()}; the crontab was not changed.");
    }

    /// <summary>The text without the lines tagged for <paramref name="cluster"/>; all other bytes unchanged.</summary>
    public static string Without(string text, string cluster)
    {
        var tag = Tag(cluster);
        var sb = new StringBuilder(text.Length);
        foreach (var line in SplitKeepingEnds(text))
        {
            if (line.TrimEnd('\n', '\r').EndsWith(tag, StringComparison.Ordinal) && line.TrimEnd('\n', '\r').EndsWith(" " + tag, StringComparison.Ordinal)) continue;
            sb.Append(line);
        }
        return sb.ToString();
    }

    /// <summary>The text with <paramref name="line"/> appended (a newline is added first if the text lacks its last one).</summary>
    public static string With(string text, string line) =>
        text + (text.Length > 0 && !text.EndsWith('\n') ? "\n" : "") + line + "\n";

    /// <summary>The clusters with a tagged line, and their lines.</summary>
    public static IReadOnlyDictionary<string, string> Tagged(string text)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in SplitKeepingEnds(text))
        {
            var line = raw.TrimEnd('\n', '\r');
            var at = line.LastIndexOf(" " + TagPrefix, StringComparison.Ordinal);
            if (at < 0 || line.TrimStart().StartsWith('#')) continue;
            var cluster = line[(at + 1 + TagPrefix.Length)..];
            if (cluster.Length > 0 && !cluster.Contains(' ')) found[cluster] = line;
        }
        return found;
    }

    private static IEnumerable<string> SplitKeepingEnds(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var nl = text.IndexOf('\n', start);
            var end = nl < 0 ? text.Length : nl + 1;
            yield return text[start..end];
            start = end;
        }
    }

    private static (int Code, string Output, string Error) Run(string[] args, string? input)
    {
        var exe = FindOnPath("crontab") ?? throw new K3dEtcdException(ErrorCatalog.CronNotInstalled, "The crontab command is not installed (Debian/Ubuntu: sudo apt-get install cron).");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new K3dEtcdException(ErrorCatalog.CrontabFailed, "crontab could not be started.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(30_000))
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            throw new K3dEtcdException(ErrorCatalog.CrontabFailed, $"crontab {string.Join(' ', args)} did not finish within 30 s.");
        }
        return (p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
