using System.Management.Automation;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Module;

/// <summary>
/// <para type="synopsis">Sets session-wide options of K3dEtcd, such as the Docker engine to use.</para>
/// <para type="description">One setting for the whole session instead of a -DockerHost parameter on every cmdlet: every
/// cmdlet that touches Docker (and the argument completers) uses it, so a pipeline cannot mix engines by accident. The
/// setting belongs to the current runspace only. Without it the module finds Docker as the docker CLI does: DOCKER_HOST,
/// then DOCKER_CONTEXT or the current context in ~/.docker/config.json, then the platform default (the named pipe on
/// Windows, Docker Desktop's socket on macOS, /var/run/docker.sock).</para>
/// </summary>
/// <example>
/// <code>Set-K3dEtcdOption -DockerHost tcp://127.0.0.1:2375</code>
/// <para>Uses the Docker engine listening on TCP port 2375 of this machine for the rest of the session.</para>
/// </example>
/// <example>
/// <code>Set-K3dEtcdOption -DockerHost $null -PassThru</code>
/// <para>Goes back to finding Docker as the docker CLI does, and shows the endpoint that will be used and why.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "K3dEtcdOption", SupportsShouldProcess = true)]
[OutputType(typeof(K3dEtcdOption))]
public sealed class SetK3dEtcdOptionCommand : PSCmdlet
{
    /// <summary>Docker endpoint URI: unix:///path, npipe://./pipe/name or tcp://host:port. $null or an empty string clears it.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [AllowNull, AllowEmptyString]
    public string? DockerHost { get; set; }

    /// <summary>Returns the options as they are after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var value = string.IsNullOrWhiteSpace(DockerHost) ? null : DockerHost;
        try
        {
            DockerEndpointResolver.Resolve(value); // refuse a malformed endpoint now, not at the next Docker call
        }
        catch (Common.K3dEtcdException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, K3dEtcdCmdlet.ToCategory(ex.Kind), DockerHost));
        }
        if (ShouldProcess(value ?? "(as the docker CLI would)", "Set the Docker endpoint"))
        {
            ModuleSession.Current.DockerHost = value;
        }
        if (PassThru) WriteObject(GetK3dEtcdOptionCommand.Snapshot());
    }
}
