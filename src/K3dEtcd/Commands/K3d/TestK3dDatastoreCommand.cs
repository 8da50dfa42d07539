using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.K3d;
using K3dEtcd.Model;
using K3dEtcd.Pki;

namespace K3dEtcd.Commands.K3d;

/// <summary>
/// <para type="synopsis">Checks whether k3s servers could use a datastore: probes it from a short-lived etcdctl container on its Docker network, with the endpoint, TLS files and client identity k3s will get.</para>
/// <para type="description">Runs etcdctl (from the etcd cluster's own image) in throw-away containers on the datastore's Docker
/// network, with the TLS files mounted read-only at the same paths the k3s servers get, and returns one object per check:
/// Health (every endpoint), Write and ReadBack (a scratch key under /k3detcd/probe/, deleted afterwards) and Bootstrap (k3s
/// bootstrap data under /bootstrap/).</para>
/// <para type="description">The Bootstrap check reads the values under /bootstrap/ and opens them as k3s does: the key for a token is
/// /bootstrap/&lt;first 12 hex of sha256(token)&gt; (the password part of a K10... token), and the value is AES-256-GCM sealed with a key
/// from PBKDF2-SHA1(token, salt, 4096 rounds). It passes when there is no bootstrap data, or when the token's key is there and its
/// value decrypts; a token whose key is absent, or whose value does not decrypt, "does not match". Without -Token, on an etcd cluster
/// of K3dEtcd, the tokens New-K3dCluster kept for its k3d clusters are tried (Verbose names them; no token is ever shown).</para>
/// <para type="description">With TLS files (a TLS etcd cluster of K3dEtcd, or -CaFile/-CertFile), a fifth check, Certificates, gives the
/// expiry of the CA file (each CA in it), of the client certificate, and of the k3s client certificates New-K3dCluster issued from the
/// cluster's CA: one that expires within 30 days gives a CertificateExpiresSoon warning, an expired one fails the check
/// (CertificateExpired in its detail). Both name the fix: Update-EtcdCertificate -Cluster NAME (with -Authority when the CA itself expires).</para>
/// </summary>
/// <example>
/// <code>Test-K3dDatastore -Datastore $etcd</code>
/// <para>Probes the etcd cluster in $etcd from its Docker network; four checks, each Passed or not with a detail.</para>
/// </example>
/// <example>
/// <code>Test-K3dDatastore 'https://db0:2379' -Network dbnet -CaFile ca.crt -CertFile k3s.crt -KeyFile k3s.key -Token $token</code>
/// <para>Probes an etcd endpoint string with TLS files, and checks whether its /bootstrap data belongs to the token in $token.</para>
/// </example>
/// <example>
/// <code>Test-K3dDatastore prod -WarningVariable soon | Where-Object Name -EQ Certificates</code>
/// <para>When the CA, the client or a k3s client certificate of etcd cluster prod expires: the warning within 30 days, Passed $false once expired.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "K3dDatastore")]
[OutputType(typeof(K3dDatastoreCheck))]
public sealed class TestK3dDatastoreCommand : K3dCmdletBase
{
    /// <summary>An EtcdCluster (from the pipeline), an etcd cluster's name, or an etcd endpoint string (http(s)://host:2379,...).</summary>
    [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [Alias("Cluster")]
    [ValidateNotNull]
    public object Datastore { get; set; } = null!;

    /// <summary>The Docker network to probe from (default: the etcd cluster's network; 'bridge' for a string).</summary>
    [Parameter]
    public string? Network { get; set; }

    /// <summary>The k3s token a new cluster would use (a SecureString, such as a K3dCluster's Token, or plain text): the Bootstrap check looks for /bootstrap/&lt;sha256(token)[:12]&gt; and decrypts its value with the token. When absent, the tokens kept for the etcd cluster's k3d clusters are tried.</summary>
    [Parameter]
    [SecureStringTransformation]
    public System.Security.SecureString? Token { get; set; }

    /// <summary>The image to run etcdctl from (default: the etcd cluster's image).</summary>
    [Parameter]
    public string? Image { get; set; }

    /// <summary>CA file for an https:// endpoint string.</summary>
    [Parameter]
    public string? CaFile { get; set; }

    /// <summary>Client certificate for an https:// endpoint string.</summary>
    [Parameter]
    public string? CertFile { get; set; }

    /// <summary>Client key for an https:// endpoint string.</summary>
    [Parameter]
    public string? KeyFile { get; set; }

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        try
        {
            var (target, etcd) = await ResolveDatastoreAsync(Datastore, Network, ResolvePath(CaFile), ResolvePath(CertFile), ResolvePath(KeyFile), Image, ct);
            IReadOnlyList<(string K3dName, string Token)> kept = [];
            if (Token is null && etcd is not null)
            {
                kept = K3sTokenStore.ReadAll(K3sTokenStore.EtcdDirectory(etcd));
                WriteVerbose(kept.Count == 0
                    ? $"No -Token, and no k3s token is kept for a k3d cluster of etcd cluster '{etcd.Name}'."
                    : $"No -Token: trying the k3s tokens kept for k3d cluster{(kept.Count == 1 ? "" : "s")} {string.Join(", ", kept.Select(k => $"'{k.K3dName}'"))} of etcd cluster '{etcd.Name}'.");
            }
            var probe = EtcdServices.DatastoreProbe(await GetDockerAsync(ct), this);
            WriteObject(await probe.TestAsync(target, Token is null ? null : SecureStringTransformationAttribute.ToPlainText(Token), ct, kept), enumerateCollection: true);
            var (certificates, warning) = DatastoreCertificates.Check(target, etcd);
            if (warning is not null) WriteWarning(warning);
            if (certificates is not null) WriteObject(certificates);
        }
        catch (K3dEtcdException ex) when (IsPerItem(ex))
        {
            WriteFailure(ex);
        }
    }
}
