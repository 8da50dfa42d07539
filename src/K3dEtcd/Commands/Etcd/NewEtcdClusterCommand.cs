using System.Management.Automation;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Etcd;

/// <summary>
/// <para type="synopsis">Creates an etcd cluster of Docker containers and waits for a healthy quorum.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "EtcdCluster", SupportsShouldProcess = true)]
[OutputType(typeof(EtcdCluster))]
public sealed class NewEtcdClusterCommand : K3dEtcdCmdlet
{
    [Parameter(Position = 0)]
    public string Name { get; set; } = "etcd";

    [Parameter]
    [ValidateRange(1, EtcdClusterSpec.MaxSize)]
    public int Size { get; set; } = 3;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = EtcdClusterSpec.DefaultImage();

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Network { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string HostAddress { get; set; } = "127.0.0.1";

    [Parameter]
    [ValidateRange(1, 65535)]
    public int ClientPort { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ClusterToken { get; set; } = EtcdClusterSpec.DefaultClusterToken;

    [Parameter]
    public SwitchParameter EnableV2 { get; set; }

    [Parameter]
    [Alias("ExtraArgs")]
    public string[] ExtraArgument { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    [Parameter]
    public ImagePullPolicy PullPolicy { get; set; } = EtcdClusterSpec.DefaultPullPolicy();

    /// <summary>Serve clients and peers over https with a generated CA; clients must present a certificate (see the Tls property of the result).</summary>
    [Parameter]
    public SwitchParameter Tls { get; set; }

    /// <summary>Extra DNS names or IP addresses for every member's server certificate (with -Tls).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] TlsSan { get; set; } = [];

    /// <summary>How long the generated CA and certificates are valid, in days (with -Tls; default 365).</summary>
    [Parameter]
    [ValidateRange(1, K3dEtcd.Pki.CertificateAuthority.MaxValidityDays)]
    public int CertificateValidityDays { get; set; } = K3dEtcd.Pki.CertificateAuthority.DefaultValidityDays;

    protected override async Task ProcessRecordAsync(CancellationToken ct)
    {
        var spec = new EtcdClusterSpec
        {
            Name = Name,
            Size = Size,
            Image = Image,
            Network = Network,
            HostAddress = HostAddress,
            ClientPort = MyInvocation.BoundParameters.ContainsKey(nameof(ClientPort)) ? ClientPort : null,
            ClusterToken = ClusterToken,
            EnableV2 = EnableV2,
            ExtraArguments = ExtraArgument,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            PullPolicy = PullPolicy,
            Tls = Tls,
            TlsSans = TlsSan,
            CertificateValidityDays = CertificateValidityDays,
        };
        try
        {
            EtcdClusterService.ValidateSpec(spec);
            if (!Tls && MyInvocation.BoundParameters.ContainsKey(nameof(CertificateValidityDays)))
            {
                throw new K3dEtcdException("CertificateValidityWithoutTls", FailureKind.InvalidArgument,
                    "-CertificateValidityDays applies to the certificates of a TLS cluster; add -Tls.", CertificateValidityDays);
            }
            if (!ShouldProcess($"etcd cluster '{Name}' ({Size} members, image {Image}{(Tls ? ", TLS" : "")})", "Create")) return;
            var service = await GetClusterServiceAsync(ct);
            WriteObject(await service.CreateAsync(spec, ct));
        }
        catch (K3dEtcdException ex) when (ex.ErrorId != "DockerUnreachable")
        {
            WriteFailure(ex);
        }
    }
}
