using System.Management.Automation;
using K3dEtcd.Model;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Lists the backup schedules made by Register-EtcdBackup: interval, retention, last run and its result, the newest good snapshot, and whether backups are overdue.</para>
/// <para type="description">Reads the module's tagged lines in the current user's crontab and the schedule files under the module's data home. LastRun, LastResult and LastError come from the state file each run writes (a failed run says why). Newest is the time (from its name) of the newest snapshot of the cluster in the folder that passes verification (every newer one that fails is skipped). Overdue is true when that snapshot, or with none the registration, is older than two intervals; Test-EtcdCluster warns about it as well. Scheduled is false when the files are there but the crontab line is gone.</para>
/// </summary>
/// <example>
/// <code>Get-EtcdBackup</code>
/// <para>Shows every schedule with its last run and newest good snapshot.</para>
/// </example>
/// <example>
/// <code>Get-EtcdBackup -Cluster prod | Where-Object Overdue | Format-List LastRun, LastResult, LastError, Newest</code>
/// <para>Says why prod's backups are behind.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdBackup")]
[OutputType(typeof(EtcdBackup))]
public sealed class GetEtcdBackupCommand : K3dEtcdCmdlet
{
    /// <summary>Only this cluster's schedule (default: all).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [Alias("Name")]
    public string? Cluster { get; set; }

    protected override Task ProcessRecordAsync(CancellationToken ct)
    {
        if (Cluster is not null) Clusters.EtcdClusterService.ValidateName(Cluster);
        foreach (var b in new BackupScheduler(BackupScheduler.DefaultRoot()).List(Cluster, ct)) WriteObject(b);
        return Task.CompletedTask;
    }
}
