using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace K3dEtcd.Commands;

/// <summary>Completes member names of the cluster given with -Cluster (from Docker labels).</summary>
public sealed class EtcdMemberNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var session = ModuleSession.Current;
        var cluster = CompletionTarget.Run(ct => CompletionTarget.ResolveClusterAsync(fakeBoundParameters, session, ct));
        return cluster is null ? [] : CompletionTarget.Results(cluster.Members.Select(m => m.Name), wordToComplete);
    }
}
