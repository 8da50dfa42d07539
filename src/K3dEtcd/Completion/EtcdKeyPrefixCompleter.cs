using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using K3dEtcd.Data;

namespace K3dEtcd.Commands;

/// <summary>
/// Completes -Key one path segment at a time from the keys of the target etcd: "/reg" offers
/// "/registry/", "/registry/p" offers "/registry/pods/". Reads keys only, and at most a few
/// thousand, so Tab stays fast on a big keyspace.
/// </summary>
public sealed class EtcdKeyPrefixCompleter : IArgumentCompleter
{
    internal const int MaxKeysRead = 5000;

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = wordToComplete.Trim('\'', '"');
        var session = ModuleSession.Current;
        var keys = CompletionTarget.Run<List<string>>(async ct =>
        {
            EtcdConnectionOptions? options = null;
            if (fakeBoundParameters.Contains("Endpoint") && LanguagePrimitives.ConvertTo<string[]>(fakeBoundParameters["Endpoint"]) is { Length: > 0 } endpoints)
            {
                options = new EtcdConnectionOptions { Endpoints = endpoints, Timeout = CompletionTarget.Budget };
            }
            else if (await CompletionTarget.ResolveClusterAsync(fakeBoundParameters, session, ct).ConfigureAwait(false) is { } cluster)
            {
                options = EtcdConnectionOptions.FromCluster(cluster, CompletionTarget.Budget, null, null, null, null, null);
            }
            if (options is null) return [];
            using var connection = EtcdConnection.Open(options);
            var found = new List<string>();
            var query = new EtcdKeyQuery { Key = typed.Length == 0 ? "/" : typed, Prefix = true, KeysOnly = true, Limit = MaxKeysRead };
            await foreach (var kv in new EtcdKeyService(connection).GetAsync(query, ct).ConfigureAwait(false)) found.Add(kv.Key);
            return found;
        });
        return keys is null ? [] : CompletionTarget.Results(NextSegments(keys, typed), wordToComplete);
    }

    /// <summary>Each key cut after the first '/' that follows what was typed (whole key when there is none).</summary>
    internal static IEnumerable<string> NextSegments(IEnumerable<string> keys, string typed) =>
        keys.Select(k =>
        {
            var slash = k.IndexOf('/', typed.Length == 0 ? 1 : typed.Length);
            return slash < 0 ? k : k[..(slash + 1)];
        });
}
