using System.Text;

namespace K3dEtcd.K3d;

/// <summary>Quotes an argument array so the user can paste it into their shell (for -WhatIf and Verbose).</summary>
public static class CommandLineQuoting
{
    public static string ForCurrentShell(string file, IEnumerable<string> args) =>
        OperatingSystem.IsWindows() ? PowerShell(file, args) : Posix(file, args);

    /// <summary>POSIX sh: single quotes, with ' written as '\''.</summary>
    public static string Posix(string file, IEnumerable<string> args) =>
        string.Join(' ', new[] { file }.Concat(args).Select(PosixWord));

    public static string PosixWord(string a)
    {
        if (a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+%".Contains(c))) return a;
        return "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>PowerShell: the call operator, single quotes with ' doubled (no expansion of $, `, @).</summary>
    public static string PowerShell(string file, IEnumerable<string> args)
    {
        var sb = new StringBuilder("& ").Append(PowerShellWord(file, force: true));
        foreach (var a in args) sb.Append(' ').Append(PowerShellWord(a));
        return sb.ToString();
    }

    public static string PowerShellWord(string a, bool force = false)
    {
        if (!force && a.Length > 0 && a[0] != '-' && a.All(c => char.IsAsciiLetterOrDigit(c) || "_./=:\\+%".Contains(c))) return a;
        if (!force && a.Length > 1 && a[0] == '-' && a.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) return a;
        return "'" + a.Replace("'", "''", StringComparison.Ordinal) + "'";
    }
}
