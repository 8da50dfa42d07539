using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Tests an etcd cluster: a health object per member, or with -Quiet one boolean (true only with a leader and a quorum of healthy members).</para>
/// <para type="description">Each member is asked for its status and then for a linearizable read, as etcdctl endpoint health does. A cluster that does not answer at all gives unhealthy objects (or $false with -Quiet), not an error. For a TLS cluster its certificates are checked too: one that expires within 30 days gives a CertificateExpiresSoon warning, an expired one a CertificateExpired error (and $false with -Quiet); both name Update-EtcdCertificate. A CA rotation stopped between its phases gives a CertificateRotationIncomplete warning.</para>
/// </summary>
/// <example>
/// <code>Test-EtcdCluster -Cluster $c</code>
/// <para>Shows whether each member is healthy, which one leads, and how long the health read took.</para>
/// </example>
/// <example>
/// <code>if (-not (Test-EtcdCluster -Cluster etcd -Quiet)) { Write-Warning 'etcd has no quorum' }</code>
/// <para>Uses the single boolean in a script.</para>
/// </example>
/// <example>
/// <code>Test-EtcdCluster -Cluster etcd -Detailed | Where-Object Severity -ne Ok</code>
/// <para>Shows the findings of etcd's alert rules (as Get-EtcdHealth without -Window); -Detailed -Quiet gives $true only with a quorum and no Critical verdict.</para>
/// </example>
/// <example>
/// <code>Test-EtcdCluster -Cluster etcd -Consistency</code>
/// <para>Asks every member for HashKV at one revision; Consistent is $false for a member whose hash differs from the majority's or that does not answer.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "EtcdCluster", DefaultParameterSetName = ClusterSet)]
[OutputType(typeof(EtcdHealth), typeof(EtcdMemberHash), typeof(bool), typeof(EtcdHealthVerdict))]
public sealed class TestEtcdClusterCommand : EtcdDataCmdlet
{
    /// <summary>Return only $true or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Compare the members' key spaces instead: HashKV of every member at one revision (with -Quiet: $true only when all agree).</summary>
    [Parameter]
    public SwitchParameter Consistency { get; set; }

    /// <summary>Return Get-EtcdHealth's verdicts (etcd's alert rules, since each member started) instead of one object per member; with -Quiet: $true only with a quorum and no Critical verdict.</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        if (Consistency)
        {
            var connection = await GetConnectionAsync(ct);
            var hashes = await new Operations.EtcdMaintenanceService(connection, TargetHostEndpoints, TargetCluster?.Name).HashAllAsync(ct);
            if (Quiet) WriteObject(hashes.All(h => h.Consistent));
            else WriteObject(hashes, enumerateCollection: true);
            return;
        }
        IReadOnlyList<EtcdHealth> health;
        var expired = false;
        try
        {
            var connection = await GetConnectionAsync(ct);
            if (TargetCluster?.Tls is { } tls)
            {
                var (error, warning) = Pki.CertificateInventory.CheckExpiry(tls.Directory, TargetCluster.Name);
                if (warning is not null) WriteWarning(warning);
                if (Members.EtcdCertificateService.RotationWarning(TargetCluster) is { } rotation) WriteWarning(rotation);
                if (error is not null)
                {
                    expired = true;
                    if (!Quiet) WriteFailure(error);
                }
            }
            // A scheduled backup that has fallen behind (Register-EtcdBackup; newest good snapshot older than two intervals).
            if (TargetCluster is not null && Operations.BackupScheduler.OverdueWarning(TargetCluster.Name) is { } backup) WriteWarning(backup);
            health = await new EtcdClusterStatusService(connection).TestAsync(TargetHostEndpoints, ct);
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex) && (ex.Kind is FailureKind.ConnectionError or FailureKind.OperationTimeout or FailureKind.ResourceUnavailable || expired && ex.Kind is FailureKind.SecurityError))
        {
            // Nothing answered: that is a result of the test, not a failure of the command. An
            // unreachable Docker engine is not (the cluster could not even be looked up): it ends the command.
            WriteVerbose(ex.Message);
            health = Unreachable(ex.Message);
        }
        if (Detailed)
        {
            var verdicts = await GetEtcdHealthCommand.EvaluateAsync(this, await GetConnectionAsync(ct), null, ct);
            if (Quiet) WriteObject(!expired && EtcdClusterStatusService.IsQuorate(health) && verdicts.All(v => v.Severity != EtcdHealthSeverity.Critical));
            else WriteObject(verdicts, enumerateCollection: true);
            return;
        }
        if (Quiet)
        {
            WriteObject(!expired && EtcdClusterStatusService.IsQuorate(health));
            return;
        }
        WriteObject(health.OrderBy(h => h.Name, StringComparer.Ordinal), enumerateCollection: true);
    }

    private IReadOnlyList<EtcdHealth> Unreachable(string error)
    {
        if (TargetCluster is { } cluster)
        {
            return cluster.Members.Select(m => new EtcdHealth
            {
                Name = m.Name, Id = m.Id, Endpoint = m.ClientUrl, Healthy = false,
                Error = m.ClientUrl is null ? $"its container is {m.State}" : error,
            }).ToList();
        }
        return (Endpoint ?? []).Select(e => new EtcdHealth { Name = e, Endpoint = e, Healthy = false, Error = error }).ToList();
    }
}
