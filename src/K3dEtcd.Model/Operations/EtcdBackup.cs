namespace K3dEtcd.Model;

/// <summary>
/// A backup schedule made by Register-EtcdBackup: a tagged line in the user's crontab that runs
/// Save-EtcdSnapshot -Directory -Keep from a job script, and what its last run did.
/// </summary>
public sealed class EtcdBackup
{
    /// <summary>The cluster that is backed up.</summary>
    public string Cluster { get; init; } = "";
    /// <summary>How often it runs.</summary>
    public TimeSpan Every { get; init; }
    /// <summary>How many valid snapshots of the cluster each run keeps in Directory.</summary>
    public int Keep { get; init; }
    /// <summary>The folder the snapshots are written to.</summary>
    public string Directory { get; init; } = "";
    /// <summary>The cron time fields of the schedule (for example */5 * * * *).</summary>
    public string CronSchedule { get; init; } = "";
    /// <summary>True when the crontab holds the schedule's line (false: only its files are left, nothing runs).</summary>
    public bool Scheduled { get; init; }
    /// <summary>When it was registered (UTC).</summary>
    public DateTime? Registered { get; init; }
    /// <summary>When the last run started (UTC); null before the first run.</summary>
    public DateTime? LastRun { get; init; }
    /// <summary>Succeeded, Failed or Skipped (the previous run was still going); null before the first run.</summary>
    public string? LastResult { get; init; }
    /// <summary>Why the last run failed (null when it succeeded).</summary>
    public string? LastError { get; init; }
    /// <summary>The ErrorId of the last run's failure.</summary>
    public string? LastErrorId { get; init; }
    /// <summary>The snapshot file the last run wrote.</summary>
    public string? LastFile { get; init; }
    /// <summary>The time (from its name, UTC) of the newest snapshot of the cluster in Directory that passes verification.</summary>
    public DateTime? Newest { get; init; }
    /// <summary>The path of that newest good snapshot.</summary>
    public string? NewestFile { get; init; }
    /// <summary>True when the newest good snapshot (or, with none, the registration) is older than two intervals.</summary>
    public bool Overdue { get; init; }
    /// <summary>The job script cron runs.</summary>
    public string JobScript { get; init; } = "";
    /// <summary>The json file each run writes its outcome to.</summary>
    public string StateFile { get; init; } = "";
    /// <summary>The command cron runs (pwsh, or dotnet with pwsh.dll, and the job script).</summary>
    public string Command { get; init; } = "";

    public override string ToString() => Cluster;
}
