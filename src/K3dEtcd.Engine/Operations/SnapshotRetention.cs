using System.Globalization;
using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.Operations;

/// <summary>A snapshot in a backup folder, named by <see cref="SnapshotRetention.FileName"/>.</summary>
public sealed record RetainedSnapshot(string Path, long Revision, DateTime Time);

/// <summary>What retention found in a backup folder: the valid snapshots (newest first) and the ones that fail verification.</summary>
public sealed record RetentionPlan(IReadOnlyList<RetainedSnapshot> Keep, IReadOnlyList<RetainedSnapshot> Remove, IReadOnlyList<(RetainedSnapshot File, string Reason)> Invalid);

/// <summary>
/// Names and prunes the snapshots Save-EtcdSnapshot -Directory writes. A name is
/// <c>&lt;cluster&gt;-r&lt;revision&gt;-&lt;yyyyMMddTHHmmssZ&gt;.db</c> (UTC): this is a contract
/// (Test-EtcdSnapshot -Newest and Get-EtcdBackup take the newest as the latest time in the name).
/// Only files of that exact pattern for that cluster are ever looked at; every one is verified
/// (SHA-256 and database walk) before it is counted, so a damaged file never takes a place of the
/// N kept and is never the reason a valid one is deleted. Damaged files are left for the user.
/// </summary>
public static class SnapshotRetention
{
    private const string TimeFormat = "yyyyMMdd'T'HHmmss'Z'";

    public static string FileName(string cluster, long revision, DateTime utc) =>
        $"{cluster}-r{revision.ToString(CultureInfo.InvariantCulture)}-{utc.ToUniversalTime().ToString(TimeFormat, CultureInfo.InvariantCulture)}.db";

    private static Regex Pattern(string cluster) => new("^" + Regex.Escape(cluster) + @"-r(\d{1,19})-(\d{8}T\d{6}Z)\.db$", RegexOptions.CultureInvariant);

    /// <summary>The files of <paramref name="cluster"/>'s naming pattern in <paramref name="directory"/>, newest name time first (then highest revision), unverified.</summary>
    public static IReadOnlyList<RetainedSnapshot> List(string directory, string cluster)
    {
        if (!Directory.Exists(directory)) return [];
        var pattern = Pattern(cluster);
        var found = new List<RetainedSnapshot>();
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var m = pattern.Match(Path.GetFileName(file));
            if (!m.Success) continue;
            if (!long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var revision)) continue;
            if (!DateTime.TryParseExact(m.Groups[2].Value, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)) continue;
            found.Add(new RetainedSnapshot(file, revision, DateTime.SpecifyKind(time, DateTimeKind.Utc)));
        }
        return found.OrderByDescending(s => s.Time).ThenByDescending(s => s.Revision).ThenByDescending(s => s.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>The newest file of the pattern that passes verification (null: none).</summary>
    public static RetainedSnapshot? NewestValid(string directory, string cluster, CancellationToken ct = default)
    {
        foreach (var s in List(directory, cluster))
        {
            if (Verify(s.Path, ct) is null) return s;
        }
        return null;
    }

    /// <summary>
    /// Which files to keep and remove so that at most <paramref name="keep"/> valid snapshots stay;
    /// <paramref name="mustKeep"/> (the snapshot just saved and verified) is always one of them.
    /// </summary>
    public static RetentionPlan Plan(string directory, string cluster, int keep, string? mustKeep, CancellationToken ct = default)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep));
        var valid = new List<RetainedSnapshot>();
        var invalid = new List<(RetainedSnapshot, string)>();
        RetainedSnapshot? pinned = null;
        foreach (var s in List(directory, cluster))
        {
            if (mustKeep is not null && string.Equals(Path.GetFullPath(s.Path), Path.GetFullPath(mustKeep), StringComparison.Ordinal))
            {
                pinned = s; // verified by the save that wrote it
                continue;
            }
            var reason = Verify(s.Path, ct);
            if (reason is null) valid.Add(s); else invalid.Add((s, reason));
        }
        var kept = new List<RetainedSnapshot>();
        if (pinned is not null) kept.Add(pinned);
        kept.AddRange(valid.Take(keep - kept.Count));
        var removed = valid.Where(v => !kept.Contains(v)).ToList();
        return new RetentionPlan(kept, removed, invalid);
    }

    /// <summary>Deletes the plan's Remove list; returns the paths deleted.</summary>
    public static IReadOnlyList<string> Apply(RetentionPlan plan, IOperationLog log)
    {
        foreach (var (file, reason) in plan.Invalid)
        {
            log.Warning($"{file.Path} fails verification and is not counted as a backup (left in place): {reason}");
        }
        var deleted = new List<string>();
        foreach (var s in plan.Remove)
        {
            File.Delete(s.Path);
            log.Verbose($"Removed the older snapshot {s.Path} (revision {s.Revision}, {s.Time:u}).");
            deleted.Add(s.Path);
        }
        return deleted;
    }

    /// <summary>Null when the file is a whole, verified snapshot; else why not.</summary>
    private static string? Verify(string path, CancellationToken ct)
    {
        try
        {
            SnapshotFile.Read(path, ct: ct);
            return null;
        }
        catch (K3dEtcdException ex)
        {
            return ex.Message;
        }
    }
}
