using System.Diagnostics;

namespace K3dEtcd.Browser;

/// <summary>
/// Opens the page in the user's default web browser. The URL with the token never goes on a
/// command line (other local users can read argv): the browser is given a private file
/// (0600, in a 0700 folder) that forwards to the URL, the way Jupyter opens its pages. The file
/// goes when the server stops.
/// </summary>
public static class BrowserLauncher
{
    /// <summary>True when a browser was started; otherwise <paramref name="problem"/> says why not (never throws).</summary>
    public static bool TryOpen(EtcdBrowserServer server, out string? problem)
    {
        problem = null;
        try
        {
            string? opener;
            if (OperatingSystem.IsWindows()) opener = null;
            else if (OperatingSystem.IsMacOS()) opener = "/usr/bin/open";
            else
            {
                // Without a display xdg-open falls back to a text browser in this very terminal.
                if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY")))
                {
                    problem = "there is no graphical display (DISPLAY and WAYLAND_DISPLAY are not set)";
                    return false;
                }
                opener = FindOnPath("xdg-open");
                if (opener is null)
                {
                    problem = "xdg-open was not found";
                    return false;
                }
            }
            var file = server.CreateLaunchFile();
            var psi = opener is null
                ? new ProcessStartInfo(file) { UseShellExecute = true }
                : new ProcessStartInfo(opener) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            if (opener is not null) psi.ArgumentList.Add(file);
            using var process = Process.Start(psi);
            if (process is null)
            {
                problem = "no process was started";
                return false;
            }
            return true;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            problem = ex.Message;
            return false;
        }
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
