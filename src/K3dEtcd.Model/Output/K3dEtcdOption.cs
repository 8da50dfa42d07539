namespace K3dEtcd.Model;

/// <summary>Session-wide settings of the module (one set per PowerShell runspace).</summary>
public sealed class K3dEtcdOption
{
    /// <summary>Docker endpoint set with Set-K3dEtcdOption -DockerHost; null means "as the docker CLI would".</summary>
    public string? DockerHost { get; set; }
    /// <summary>The endpoint that will be used, resolved now.</summary>
    public string? DockerEndpoint { get; init; }
    /// <summary>Where that endpoint came from (option, DOCKER_HOST, Docker context, default).</summary>
    public string? DockerEndpointSource { get; init; }
}
