using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Services;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Lists every certificate K3dEtcd issued for TLS etcd clusters: role, member, names, expiry, and what each member actually serves.</para>
/// <para type="description">One object per certificate: the cluster's CA; each member's server and peer certificate; the cluster's client
/// certificate; the k3s client certificates of New-K3dCluster; and the client certificates New-EtcdClientCertificate wrote (recorded in the
/// cluster's TLS directory, issued.json, from this version on). Each carries Role, Member, Subject, Sans, Thumbprint, IssuerThumbprint,
/// NotBefore, NotAfter, DaysLeft and Path. For server and peer certificates it also reads, over TLS, the certificate the member serves on its
/// client and peer port (ServedThumbprint; Served is $false for a member still serving an old certificate). Without -Cluster, every TLS
/// cluster is listed. No key content is ever read into the output. A CA rotation (Update-EtcdCertificate -Authority) stopped between its
/// phases gives a CertificateRotationIncomplete warning naming the phase, and the CA file's two CAs are listed (Role CA, one each).</para>
/// </summary>
/// <example>
/// <code>Get-EtcdCertificate -Cluster prod</code>
/// <para>Every certificate of prod, with days left and whether each member serves the certificate of its files.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCertificate -ExpiringWithin 30.00:00:00</code>
/// <para>The certificates of every TLS cluster that expire within 30 days (or have expired).</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "EtcdCertificate")]
[OutputType(typeof(EtcdCertificate))]
public sealed class GetEtcdCertificateCommand : K3dEtcdCmdlet
{
    /// <summary>The TLS cluster: an EtcdCluster object or a cluster name. Every TLS cluster when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    public EtcdCluster? Cluster { get; set; }

    /// <summary>Only certificates whose NotAfter is within this time from now (expired ones included).</summary>
    [Parameter]
    public TimeSpan? ExpiringWithin { get; set; }

    /// <summary>Do not read what the members serve (no TLS handshakes; faster).</summary>
    [Parameter]
    public SwitchParameter SkipServed { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var docker = await GetDockerAsync(ct);
        var service = EtcdServices.Certificates(docker, Log, TimeSpan.FromSeconds(30));
        IReadOnlyList<EtcdCluster> clusters;
        try
        {
            clusters = Cluster is null ? await (await GetClusterServiceAsync(ct)).ListAsync(ct) : [await FindClusterAsync(Cluster, ct, refresh: true)];
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
            return;
        }
        foreach (var cluster in clusters.Where(c => c.Tls is not null))
        {
            if (Members.EtcdCertificateService.RotationWarning(cluster) is { } rotation) WriteWarning(rotation);
            var limit = ExpiringWithin is { } w ? DateTime.UtcNow + w : (DateTime?)null;
            foreach (var cert in await service.ListAsync(cluster, !SkipServed, ct))
            {
                if (limit is null || cert.NotAfter <= limit) WriteObject(cert);
            }
        }
        foreach (var plain in clusters.Where(c => c.Tls is null && Cluster is not null)) WriteVerbose($"Cluster '{plain.Name}' serves plain HTTP: it has no certificates.");
    }
}
