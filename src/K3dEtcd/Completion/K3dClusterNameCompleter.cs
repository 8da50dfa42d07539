using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using K3dEtcd.Services;
using K3dEtcd.Common;
using K3dEtcd.K3d;

namespace K3dEtcd.Commands.K3d;

/// <summary>Completes k3d cluster names from `k3d cluster list -o json`.</summary>
public sealed class K3dClusterNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = WildcardPattern.Get(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var names = Task.Run(async () =>
            {
                var cli = new K3dCli(K3dCli.Locate(fakeBoundParameters["K3dPath"] as string), NullOperationLog.Instance);
                var version = await cli.GetVersionAsync(cts.Token).ConfigureAwait(false);
                var list = await EtcdServices.K3d(cli, version, null, withProbe: false, NullOperationLog.Instance).ListAsync(cts.Token).ConfigureAwait(false);
                return list.Select(c => c.Name).ToList();
            }).GetAwaiter().GetResult();
            return names.Where(pattern.IsMatch).Select(n => new CompletionResult(EtcdClusterNameCompleter.Quote(n), n, CompletionResultType.ParameterValue, n));
        }
        catch (Exception)
        {
            return []; // a completer must never throw into the user's Tab press
        }
    }
}
