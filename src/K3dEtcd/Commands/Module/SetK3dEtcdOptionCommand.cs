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
/// <example>
/// <code>Set-K3dEtcdOption -DockerHost unix:///var/run/docker.sock, tcp://hostb:2376, tcp://hostc:2376 -DockerCertPath ~/.docker/prod</code>
/// <para>Uses the local engine for the session and lists the clusters of the other two as well, so Get-EtcdCluster finds a cluster
/// whose members run on several engines from whichever of them holds one. TLS to the tcp:// engines uses ca.pem, cert.pem and key.pem from ~/.docker/prod.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "K3dEtcdOption", SupportsShouldProcess = true, DefaultParameterSetName = "Host")]
[OutputType(typeof(K3dEtcdOption))]
public sealed class SetK3dEtcdOptionCommand : PSCmdlet
{
    /// <summary>
    /// Docker endpoint URIs: unix:///path, npipe://./pipe/name or tcp://host:port. The first is the session's engine; more
    /// engines are read too when clusters are listed (members on several engines). $null or an empty string clears it.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Host")]
    [AllowNull, AllowEmptyString, AllowEmptyCollection]
    [ArgumentCompleter(typeof(DockerHostCompleter))]
    public string?[]? DockerHost { get; set; }

    /// <summary>Directory with ca.pem, cert.pem and key.pem (the docker CLI's DOCKER_CERT_PATH layout) for TLS to tcp:// engines; $null or '' clears it.</summary>
    [Parameter(ParameterSetName = "Host")]
    [Parameter(Mandatory = true, ParameterSetName = "CertPath")]
    [AllowNull, AllowEmptyString]
    public string? DockerCertPath { get; set; }

    /// <summary>Returns the options as they are after the change.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var hosts = (DockerHost ?? []).Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h!.Trim()).ToArray();
        var value = hosts.FirstOrDefault();
        try
        {
            // Refuse a malformed endpoint now, not at the next Docker call.
            DockerEndpointResolver.Resolve(value);
            foreach (var more in hosts.Skip(1)) DockerEndpointResolver.Parse(more, "Set-K3dEtcdOption -DockerHost");
        }
        catch (Common.K3dEtcdException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, K3dEtcdCmdlet.ToCategory(ex.Kind), ex.Target));
        }
        if (ParameterSetName == "Host" && ShouldProcess(hosts.Length == 0 ? "(as the docker CLI would)" : string.Join(", ", hosts), "Set the Docker endpoint"))
        {
            ModuleSession.Current.DockerHost = value;
            ModuleSession.Current.AdditionalDockerHosts = hosts.Skip(1).ToArray();
        }
        if (MyInvocation.BoundParameters.ContainsKey(nameof(DockerCertPath)) && ShouldProcess(DockerCertPath ?? "(DOCKER_CERT_PATH)", "Set the Docker TLS directory"))
        {
            ModuleSession.Current.DockerCertPath = string.IsNullOrWhiteSpace(DockerCertPath) ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(DockerCertPath);
        }
        if (PassThru) WriteObject(GetK3dEtcdOptionCommand.Snapshot());
    }
}
