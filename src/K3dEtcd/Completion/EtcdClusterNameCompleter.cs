using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using K3dEtcd.Services;
using K3dEtcd.Common;

namespace K3dEtcd.Commands;

/// <summary>Completes etcd cluster names from Docker labels.</summary>
public sealed class EtcdClusterNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = wordToComplete.Trim('\'', '"');
        var pattern = WildcardPattern.Get(prefix + "*", WildcardOptions.IgnoreCase);
        IReadOnlyList<string> names;
        var session = ModuleSession.Current;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            names = Task.Run(async () =>
            {
                using var docker = await CompletionTarget.ConnectAsync(session, cts.Token).ConfigureAwait(false);
                var clusters = await EtcdServices.Clusters(docker, NullOperationLog.Instance).ListAsync(cts.Token).ConfigureAwait(false);
                return (IReadOnlyList<string>)clusters.Select(c => c.Name).ToList();
            }).GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // A completer must never throw into the user's Tab press.
            return [];
        }
        return names.Where(pattern.IsMatch).Select(n => new CompletionResult(Quote(n), n, CompletionResultType.ParameterValue, n));
    }

    internal static string Quote(string value) =>
        value.IndexOfAny([' ', '\'', '"', '$', '`', '(', ')', '{', '}', ';', ',', '&', '|', '@', '#']) >= 0 ? $"'{value.Replace("'", "''")}'" : value;
}
