using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;
using K3dEtcd.Services;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Renews every leaf certificate of a TLS etcd cluster, one member at a time, without downtime.</para>
/// <para type="description">Renews, from the cluster's CA and on their own keys (the key files are not touched), each member's server and
/// peer certificate, the cluster's client certificate, the k3s client certificates of New-K3dCluster and the client certificates
/// New-EtcdClientCertificate recorded. Members go one at a time, followers first and the leader last: the member's files are replaced
/// (written beside them, then renamed); etcd reads them on each new TLS handshake, so a member on a bridge network serves them without a
/// restart, and a member on host networking (several engines) is recreated in place with the new files copied in. Before the next member,
/// this one must serve the new certificates on its client and peer ports (read over TLS) and be healthy and caught up. Client certificate
/// files are rewritten in place (the same file, mode kept), because k3d bind-mounts single files into k3s servers. -WhatIf lists what would be renewed.</para>
/// <para type="description">With -Authority the CA itself is replaced, in three phases, so that no member or client holding either the
/// previous files or the updated ones is refused: (1) a new CA is made and every trust file (each member's, the cluster's ca.pem, the k3s
/// client folders' and the recorded client certificates' ca.pem, rewritten in place at the same paths) holds the old and the new CA; etcd
/// reads its trusted-CA file only at start, so members are recreated in place one at a time (quorum kept); (2) every leaf certificate is
/// reissued from the new CA on its own key, members one at a time; (3) the trust files hold the new CA only, the new CA key replaces the old
/// one, and members are recreated one at a time again. The phase reached is kept in the TLS directory (rotation.json): a run that is stopped
/// (Ctrl+C, a failure) leaves a cluster that trusts both CAs, Get-EtcdCertificate and Test-EtcdCluster warn CertificateRotationIncomplete,
/// and running Update-EtcdCertificate -Authority again completes the rotation (a leaf renewal is refused until then). k3s servers read their
/// CA file when they start: restart them after phase 1 if they must follow the rotation without a reconnect failure. The CA key is never printed.</para>
/// </summary>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -WhatIf</code>
/// <para>Lists every certificate that would be renewed and how each member takes it; nothing changes.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -ValidityDays 730 -Force</code>
/// <para>Renews every leaf certificate for two years (never beyond the CA), without asking.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -Authority -WhatIf</code>
/// <para>Lists the three phases of a CA rotation and every certificate phase 2 would reissue; nothing changes.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -Authority -Force -Verbose</code>
/// <para>Rotates prod's CA (or completes a rotation stopped earlier); Verbose says when each phase is done.</para>
/// </example>
[Cmdlet(VerbsData.Update, "EtcdCertificate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(EtcdCertificateRenewal))]
public sealed class UpdateEtcdCertificateCommand : K3dEtcdCmdlet
{
    /// <summary>The TLS cluster: an EtcdCluster object (from New-/Get-EtcdCluster) or a cluster name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>Validity of the renewed certificates in days (default 365); never beyond the CA's own expiry.</summary>
    [Parameter]
    [ValidateRange(1, CertificateAuthority.MaxValidityDays)]
    public int ValidityDays { get; set; } = CertificateAuthority.DefaultValidityDays;

    /// <summary>How long each member may take to be healthy and caught up, in seconds.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>Replace the CA itself (a new CA in three phases: trust old + new, reissue every certificate, drop the old), or complete a rotation stopped earlier. -ValidityDays applies to the new CA and the reissued certificates.</summary>
    [Parameter]
    public SwitchParameter Authority { get; set; }

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    private bool IsWhatIf() => MyInvocation.BoundParameters.ContainsKey("WhatIf") || GetVariableValue("WhatIfPreference") is true or SwitchParameter { IsPresent: true };

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = EtcdServices.Certificates(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
        try
        {
            if (Authority)
            {
                var phases = await service.RotationPlanAsync(Cluster.Name, ct);
                var text = string.Join("; ", phases.Where(p => p.Role == "CA").Select(p => p.How));
                if (!ShouldProcessUnlessForced(Force, $"the CA of etcd cluster '{Cluster.Name}': {text}", "Rotate"))
                {
                    if (IsWhatIf()) WriteObject(phases, enumerateCollection: true);
                    return;
                }
                await foreach (var step in service.RotateAsync(Cluster.Name, ValidityDays, ct)) WriteObject(step);
                return;
            }
            var plan = await service.PlanAsync(Cluster.Name, ct);
            var list = string.Join("; ", plan.Select(p => $"{p.Role}{(p.Member is null ? "" : $" {p.Member}")} ({p.How})"));
            if (!ShouldProcessUnlessForced(Force, $"certificates of etcd cluster '{Cluster.Name}': {list}", "Renew"))
            {
                if (IsWhatIf()) WriteObject(plan, enumerateCollection: true);
                return;
            }
            await foreach (var renewal in service.RenewAsync(Cluster.Name, ValidityDays, ct)) WriteObject(renewal);
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
