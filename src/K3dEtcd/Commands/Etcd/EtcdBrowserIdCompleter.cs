using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace K3dEtcd.Commands.Etcd;

/// <summary>Completes the Ids of this session's running etcd browsers, with their cluster and port as the tooltip.</summary>
public sealed class EtcdBrowserIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        foreach (var server in EtcdBrowserSessions.Current())
        {
            var id = server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!id.StartsWith(wordToComplete ?? "", StringComparison.Ordinal)) continue;
            var b = server.Describe();
            yield return new CompletionResult(id, id, CompletionResultType.ParameterValue, $"{b.Cluster} on port {b.Port}");
        }
    }
}
