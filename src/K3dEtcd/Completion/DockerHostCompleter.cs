using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace K3dEtcd.Commands;

/// <summary>
/// Completes Docker engine URLs for -DockerHost: the engines of the session (Set-K3dEtcdOption
/// -DockerHost), DOCKER_HOST, and the default socket. Nothing is contacted, so Tab stays instant.
/// </summary>
public sealed class DockerHostCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = wordToComplete.Trim('\'', '"');
        var option = ModuleSession.Current;
        var candidates = new[] { option.DockerHost }
            .Concat(option.AdditionalDockerHosts)
            .Append(Environment.GetEnvironmentVariable("DOCKER_HOST"))
            .Append(OperatingSystem.IsWindows() ? "npipe://./pipe/docker_engine" : "unix:///var/run/docker.sock")
            .OfType<string>()
            .Where(h => h.Length > 0 && h.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal);
        return candidates.Select(h => new CompletionResult(h, h, CompletionResultType.ParameterValue, h));
    }
}
