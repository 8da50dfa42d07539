using System.Management.Automation;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Schedules backups of an etcd cluster that run with no pwsh session open: a line in the user's crontab runs Save-EtcdSnapshot -Directory -Keep.</para>
/// <para type="description">Writes a small job script under the module's data home (~/.local/share/k3detcd/backups/&lt;cluster&gt;.ps1, or under $XDG_DATA_HOME) and adds one line, tagged "# k3detcd-backup &lt;cluster&gt;", to the current user's crontab (read with crontab -l, written with crontab -; the user's other lines are written back unchanged). cron runs the job with the pwsh this session runs (for pwsh as a dotnet tool: dotnet and its pwsh.dll), -NoProfile -NonInteractive; the job imports this module by its full path, uses the Docker engine this session uses (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, DOCKER_CONFIG, HOME and XDG_DATA_HOME as they are now, and Set-K3dEtcdOption's setting), runs Save-EtcdSnapshot -Cluster -Directory -Keep and writes the outcome (time, result, error, file) to &lt;cluster&gt;.state.json beside the script, which Get-EtcdBackup shows. A failed run (the cluster down) records its reason and removes nothing.</para>
/// <para type="description">-Every must be an interval cron repeats exactly: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes; 1, 2, 3, 4, 6, 8 or 12 hours; 1 day; 7 days. Another interval is refused with the nearest valid ones. Needs crontab and a running cron daemon (Linux, macOS); on Windows it is refused (BackupSchedulerNotSupported). Snapshots are taken with the cluster's own TLS material; etcd user/password authentication is not supported by the schedule.</para>
/// </summary>
/// <example>
/// <code>Register-EtcdBackup -Cluster prod -Directory /backups/prod -Every 06:00:00 -Keep 28</code>
/// <para>Backs up prod every 6 hours (at 00:00, 06:00, 12:00 and 18:00) into /backups/prod and keeps the newest 28 valid snapshots (a week).</para>
/// </example>
/// <example>
/// <code>Register-EtcdBackup -Cluster prod -Directory /backups/prod -Every (New-TimeSpan -Minutes 15) -Keep 8 -Force</code>
/// <para>Replaces prod's schedule with one every 15 minutes that keeps 8 snapshots (two hours).</para>
/// </example>
[Cmdlet(VerbsLifecycle.Register, "EtcdBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdBackup))]
public sealed class RegisterEtcdBackupCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster to back up: a name or a cluster object (also from the pipeline).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster? Cluster { get; set; }

    /// <summary>Existing folder the snapshots are written to (as Save-EtcdSnapshot -Directory names them).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Directory { get; set; } = "";

    /// <summary>How often to back up; an interval cron repeats exactly (minutes dividing 60, hours dividing 24, 1 day or 7 days).</summary>
    [Parameter(Mandatory = true)]
    public TimeSpan Every { get; set; }

    /// <summary>How many valid snapshots of the cluster each run keeps in the folder.</summary>
    [Parameter(Mandatory = true)]
    [ValidateRange(1, 100000)]
    public int Keep { get; set; }

    /// <summary>Replace the cluster's existing schedule (without it, an existing schedule is refused).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        // Refuse what cron cannot do before anything else is looked at.
        CronInterval.ToCron(Every);
        Crontab.EnsureAvailable();
        var cluster = await FindClusterAsync(Cluster!, ct);
        var directory = GetUnresolvedProviderPathFromPSPath(Directory);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new Common.K3dEtcdException(Common.ErrorCatalog.SnapshotDirectoryNotFound, $"The directory '{directory}' does not exist; create it first.", directory);
        }
        var host = BackupHost.Current();
        var module = MyInvocation.MyCommand.Module;
        var manifest = module is null ? null : System.IO.Path.Combine(module.ModuleBase, "K3dEtcd.psd1");
        if (manifest is null || !File.Exists(manifest)) manifest = module?.Path;
        if (string.IsNullOrEmpty(manifest)) throw new Common.K3dEtcdException(Common.ErrorCatalog.BackupHostUnknown, "The module's own path is unknown, so the job could not import it.");
        string[] names = ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "HOME", "XDG_DATA_HOME"];
        var environment = names.ToDictionary(n => n, Environment.GetEnvironmentVariable, StringComparer.Ordinal);
        var session = ModuleSession.Current;
        var hosts = new[] { session.DockerHost }.Concat(session.AdditionalDockerHosts ?? []).Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h!).ToArray();
        var request = new BackupRequest(cluster.Name, directory, Every, Keep, manifest, host, environment, hosts, session.DockerCertPath);
        var scheduler = new BackupScheduler(BackupScheduler.DefaultRoot());
        var line = scheduler.CronLine(request);
        if (!ShouldProcess($"crontab of {Environment.UserName}: {line}", Force ? "Add or replace the backup schedule" : "Add the backup schedule")) return;
        WriteObject(scheduler.Register(request, Force, Log));
    }
}
