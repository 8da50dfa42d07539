using System.Management.Automation;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Commands.Module;

/// <summary>
/// <para type="synopsis">Gets the session-wide options of K3dEtcd and the Docker endpoint they resolve to.</para>
/// <para type="description">Shows the Docker host set with Set-K3dEtcdOption (if any), the endpoint every cmdlet will
/// use now, and where it comes from: the option, DOCKER_HOST, a Docker context or the platform default.</para>
/// </summary>
/// <example>
/// <code>Get-K3dEtcdOption</code>
/// <para>Shows which Docker engine the module talks to and why.</para>
/// </example>
/// <example>
/// <code>$env:DOCKER_HOST = 'unix:///run/user/1000/docker.sock'; (Get-K3dEtcdOption).DockerEndpointSource</code>
/// <para>Shows that the endpoint now comes from DOCKER_HOST (a rootless Docker engine).</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "K3dEtcdOption")]
[OutputType(typeof(K3dEtcdOption))]
public sealed class GetK3dEtcdOptionCommand : PSCmdlet
{
    protected override void ProcessRecord()
    {
        try
        {
            WriteObject(Snapshot());
        }
        catch (Common.K3dEtcdException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, K3dEtcdCmdlet.ToCategory(ex.Kind), null));
        }
    }

    internal static K3dEtcdOption Snapshot()
    {
        var host = ModuleSession.Current.DockerHost;
        var endpoint = DockerEndpointResolver.Resolve(host);
        var current = ModuleSession.Current;
        return new K3dEtcdOption
        {
            DockerHost = host,
            DockerEndpoint = endpoint.Uri.ToString(),
            DockerEndpointSource = endpoint.Source,
            AdditionalDockerHosts = [.. current.AdditionalDockerHosts],
            DockerCertPath = current.DockerCertPath,
        };
    }
}
