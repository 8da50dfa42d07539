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
/// </summary>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -WhatIf</code>
/// <para>Lists every certificate that would be renewed and how each member takes it; nothing changes.</para>
/// </example>
/// <example>
/// <code>Update-EtcdCertificate -Cluster prod -ValidityDays 730 -Force</code>
/// <para>Renews every leaf certificate for two years (never beyond the CA), without asking.</para>
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

    /// <summary>Do not ask for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var service = EtcdServices.Certificates(await GetDockerAsync(ct), Log, TimeSpan.FromSeconds(TimeoutSeconds));
        try
        {
            var plan = await service.PlanAsync(Cluster.Name, ct);
            var list = string.Join("; ", plan.Select(p => $"{p.Role}{(p.Member is null ? "" : $" {p.Member}")} ({p.How})"));
            if (!ShouldProcessUnlessForced(Force, $"certificates of etcd cluster '{Cluster.Name}': {list}", "Renew"))
            {
                if (MyInvocation.BoundParameters.ContainsKey("WhatIf") || GetVariableValue("WhatIfPreference") is true or SwitchParameter { IsPresent: true }) WriteObject(plan, enumerateCollection: true);
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
