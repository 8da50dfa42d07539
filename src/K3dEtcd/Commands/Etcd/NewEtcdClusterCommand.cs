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
        };
        try
        {
            EtcdClusterService.ValidateSpec(spec);
            if (!ShouldProcess($"etcd cluster '{Name}' ({Size} members, image {Image})", "Create")) return;
            var service = await GetClusterServiceAsync(ct);
            WriteObject(await service.CreateAsync(spec, ct));
        }
        catch (K3dEtcdException ex) when (ex.ErrorId != "DockerUnreachable")
        {
            WriteFailure(ex);
        }
    }
}
