namespace K3dEtcd.Model;

/// <summary>Session-wide settings of the module (one set per PowerShell runspace).</summary>
public sealed class K3dEtcdOption
{
    /// <summary>Docker endpoint set with Set-K3dEtcdOption -DockerHost; null means "as the docker CLI would".</summary>
    public string? DockerHost { get; set; }
    /// <summary>
    /// More engines set with Set-K3dEtcdOption -DockerHost a, b, c (after the first, which is DockerHost): Get-EtcdCluster
    /// lists their clusters too, so a cluster spread over several engines is found from this session.
    /// </summary>
    public string[] AdditionalDockerHosts { get; set; } = [];
    /// <summary>Directory with ca.pem, cert.pem and key.pem for tcp:// engines (Set-K3dEtcdOption -DockerCertPath); null: DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set.</summary>
    public string? DockerCertPath { get; set; }
    /// <summary>The endpoint that will be used, resolved now.</summary>
    public string? DockerEndpoint { get; init; }
    /// <summary>Where that endpoint came from (option, DOCKER_HOST, Docker context, default).</summary>
    public string? DockerEndpointSource { get; init; }
}
