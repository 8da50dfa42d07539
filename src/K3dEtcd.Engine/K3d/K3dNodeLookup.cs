using K3dEtcd.Common;
using K3dEtcd.Docker;

namespace K3dEtcd.K3d;

/// <summary>
/// k3d labels every node container `k3d.cluster=NAME` on every version (v3.0 included), so Docker
/// answers "does this k3d cluster exist" where k3d v3.0-v3.3 has no JSON list to ask.
/// </summary>
public static class K3dNodeLookup
{
    public const string ClusterLabel = "k3d.cluster";

    public static Func<string, CancellationToken, Task<IReadOnlyList<string>>> For(DockerConnection docker, IOperationLog log) =>
        (name, ct) => FindAsync(new DockerAdapter(docker, log), name, ct);

    /// <summary>Names of the containers (running or not) labelled as nodes of k3d cluster <paramref name="name"/>.</summary>
    public static async Task<IReadOnlyList<string>> FindAsync(DockerAdapter docker, string name, CancellationToken ct)
    {
        try
        {
            var containers = await docker.ListContainersAsync(
                new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ClusterLabel}={name}"] = true } }, ct).ConfigureAwait(false);
            return containers.Select(c => c.Name.Length > 0 ? c.Name : c.Id).ToList();
        }
        catch (DockerOperationException ex)
        {
            throw EngineErrors.Translate(ex, name)!;
        }
    }
}
