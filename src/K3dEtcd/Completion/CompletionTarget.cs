using System.Collections;
using System.Management.Automation;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.Docker;
using K3dEtcd.Model;

namespace K3dEtcd.Commands;

/// <summary>
/// What a completer can learn about the command line's target: the -Cluster value (object,
/// PSObject-wrapped object or name) or the -Endpoint values. Completers never throw and give up
/// after a few seconds, so Tab never hangs.
/// </summary>
internal static class CompletionTarget
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    public static T? Run<T>(Func<CancellationToken, Task<T?>> work) where T : class
    {
        try
        {
            using var cts = new CancellationTokenSource(Budget);
            return Task.Run(() => work(cts.Token)).GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            return null;
        }
    }

    public static async Task<EtcdCluster?> ResolveClusterAsync(IDictionary fakeBoundParameters, K3dEtcdOption session, CancellationToken ct)
    {
        var value = fakeBoundParameters.Contains("Cluster") ? fakeBoundParameters["Cluster"] : null;
        if (value is PSObject pso) value = pso.BaseObject;
        if (value is EtcdCluster cluster && !Commands.Etcd.EtcdClusterTransformationAttribute.IsUnresolved(cluster)) return cluster;
        var name = value switch
        {
            EtcdCluster c => c.Name,
            string s when s.Length > 0 => s,
            _ => null,
        };
        if (name is null) return null;
        using var docker = await ConnectAsync(session, ct).ConfigureAwait(false);
        return await EtcdServices.Clusters(docker, NullOperationLog.Instance).GetAsync(name, ct).ConfigureAwait(false);
    }

    /// <summary>The session's engines as the cmdlets use them (read the option on the pipeline thread: it is per runspace).</summary>
    public static Task<DockerConnection> ConnectAsync(K3dEtcdOption session, CancellationToken ct) =>
        DockerConnection.ConnectAsync(session.DockerHost, session.AdditionalDockerHosts, session.DockerCertPath, ct);

    public static IEnumerable<CompletionResult> Results(IEnumerable<string> values, string wordToComplete)
    {
        var prefix = wordToComplete.Trim('\'', '"');
        return values
            .Where(v => v.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(v => v, StringComparer.Ordinal)
            .Select(v => new CompletionResult(EtcdClusterNameCompleter.Quote(v), v, CompletionResultType.ParameterValue, v));
    }
}
