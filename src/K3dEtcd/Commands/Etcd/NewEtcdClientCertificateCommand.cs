using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Issues a client certificate from a TLS etcd cluster's CA (for k3s, etcdctl or another user).</para>
/// <para type="description">Signs a new ECDSA P-256 client certificate (client authentication only) with the CA that
/// New-EtcdCluster -Tls made for the cluster, and writes &lt;CommonName&gt;.pem, &lt;CommonName&gt;-key.pem (created
/// owner-only, 0600 on Unix) and ca.pem into -OutputDirectory (':' in the name becomes '_' in file names). Returns the
/// paths and expiry; no key content is ever written to the pipeline or any stream. Existing files are replaced only with -Force.</para>
/// </summary>
/// <example>
/// <code>New-EtcdClientCertificate -Cluster secure -CommonName k3s -OutputDirectory ./k3s-certs</code>
/// <para>Writes k3s.pem, k3s-key.pem and ca.pem for k3s's --datastore-certfile, --datastore-keyfile and --datastore-cafile.</para>
/// </example>
/// <example>
/// <code>Get-EtcdCluster secure | New-EtcdClientCertificate -CommonName backup -OutputDirectory ~/etcd-backup -CertificateValidityDays 30</code>
/// <para>Issues a 30-day certificate for a backup job, taking the cluster from the pipeline; pass the returned CaFile,
/// CertFile and KeyFile to etcdctl's --cacert, --cert and --key.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "EtcdClientCertificate", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdClientCertificate))]
public sealed class NewEtcdClientCertificateCommand : K3dEtcdCmdlet
{
    /// <summary>The TLS cluster whose CA signs the certificate: a cluster object or its name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [EtcdClusterTransformation]
    [ArgumentCompleter(typeof(EtcdClusterNameCompleter))]
    [ValidateNotNull]
    public EtcdCluster Cluster { get; set; } = null!;

    /// <summary>The certificate's subject common name (etcd's user name when etcd authentication is on); also names the files.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("CN")]
    [ValidateNotNullOrEmpty]
    public string CommonName { get; set; } = "";

    /// <summary>The directory that receives the certificate, its key and the CA certificate; created when missing.</summary>
    [Parameter(Mandatory = true, Position = 2)]
    [ValidateNotNullOrEmpty]
    public string OutputDirectory { get; set; } = "";

    /// <summary>Validity in days (default 365); never beyond the CA's own expiry.</summary>
    [Parameter]
    [ValidateRange(1, CertificateAuthority.MaxValidityDays)]
    public int CertificateValidityDays { get; set; } = CertificateAuthority.DefaultValidityDays;

    /// <summary>Replace existing files of the same names.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            ClusterTlsStore.ValidateCommonName(CommonName);
            var cluster = Cluster.Tls is null ? await FindClusterAsync(Cluster, ct) : Cluster;
            if (cluster.Tls is not { } tls)
            {
                throw new K3dEtcdException(ErrorCatalog.ClusterNotTls,
                    $"Cluster '{cluster.Name}' serves plain HTTP and has no CA; create it with New-EtcdCluster -Tls to use client certificates.", cluster.Name);
            }
            var directory = SessionState.Path.GetUnresolvedProviderPathFromPSPath(OutputDirectory);
            if (!ShouldProcess($"client certificate CN={CommonName} of etcd cluster '{cluster.Name}' in {directory}", "Create")) return;
            WriteObject(ClusterTlsStore.IssueClient(tls, cluster.Name, CommonName, directory, CertificateValidityDays, Force, Log, record: true));
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WriteFailure(new K3dEtcdException(ErrorCatalog.ClientCertificateWriteFailed,
                $"The client certificate could not be written to {OutputDirectory}: {ex.Message}", OutputDirectory, ex));
        }
    }
}
