using System.Management.Automation;
using K3dEtcd.Operations;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Removes a backup schedule made by Register-EtcdBackup: its crontab line, job script and state files. The snapshots stay.</para>
/// <para type="description">Only the crontab line tagged "# k3detcd-backup &lt;cluster&gt;" is removed; the user's other lines are written back unchanged. The snapshot files in the schedule's folder are not touched. The cluster need not exist any more.</para>
/// </summary>
/// <example>
/// <code>Unregister-EtcdBackup -Cluster prod</code>
/// <para>Stops the scheduled backups of prod.</para>
/// </example>
/// <example>
/// <code>Get-EtcdBackup | Unregister-EtcdBackup -WhatIf</code>
/// <para>Shows which schedules would be removed.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Unregister, "EtcdBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class UnregisterEtcdBackupCommand : K3dEtcdCmdlet
{
    /// <summary>The cluster whose schedule to remove.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Cluster { get; set; } = "";

    protected override Task ProcessRecordAsync(CancellationToken ct)
    {
        Clusters.EtcdClusterService.ValidateName(Cluster);
        var scheduler = new BackupScheduler(BackupScheduler.DefaultRoot());
        if (ShouldProcess($"backup schedule of '{Cluster}' (crontab line '{Crontab.Tag(Cluster)}', {scheduler.ScriptPath(Cluster)})", "Remove"))
        {
            try { scheduler.Unregister(Cluster, Log); }
            catch (Common.K3dEtcdException ex) when (ex.ErrorId == Common.ErrorCatalog.BackupScheduleNotFound.Id) { WriteFailure(ex); }
        }
        return Task.CompletedTask;
    }
}
