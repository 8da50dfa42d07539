using System.Text.RegularExpressions;

namespace K3dEtcd.Tests;

/// <summary>
/// The tree says which assembly (and so which load context) a file ships in: each project compiles
/// only its own folder; Docker calls live in the engine's Docker adapter; the namespaces of the
/// sources do not use each other in a circle; long files say why at their top.
/// </summary>
public sealed class LayoutTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "K3dEtcd.sln"))) dir = dir.Parent;
        Assert.True(dir is not null, $"No K3dEtcd.sln above {AppContext.BaseDirectory}.");
        return dir!.FullName;
    }

    private static IEnumerable<string> Sources(string folder) =>
        Directory.EnumerateFiles(Path.Combine(Root, folder), "*.cs", SearchOption.AllDirectories)
            .Where(f => !Regex.IsMatch(f, @"[\\/](obj|bin)[\\/]"));

    private static string Rel(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    [Theory]
    [InlineData("src/K3dEtcd/K3dEtcd.csproj")]
    [InlineData("src/K3dEtcd.Model/K3dEtcd.Model.csproj")]
    [InlineData("src/K3dEtcd.Engine/K3dEtcd.Engine.csproj")]
    public void Each_project_compiles_exactly_its_own_folder(string project)
    {
        var text = File.ReadAllText(Path.Combine(Root, project));
        Assert.DoesNotContain("<Compile ", text);
        Assert.DoesNotContain("EnableDefaultCompileItems", text);
    }

    [Fact]
    public void Only_the_Docker_adapter_calls_Docker()
    {
        var call = new Regex(@"\.(Containers|Volumes|Networks|Images|System)\.[A-Z]\w*Async\(");
        var files = Sources("src").Where(f => !Rel(f).StartsWith("src/K3dEtcd.Engine/Docker/", StringComparison.Ordinal));
        var offenders = files.Where(f => call.IsMatch(File.ReadAllText(f))).Select(Rel).ToList();
        Assert.True(offenders.Count == 0, "Docker.DotNet calls outside src/K3dEtcd.Engine/Docker/: " + string.Join(", ", offenders));
        Assert.Contains("client.Containers.CreateContainerAsync", File.ReadAllText(Path.Combine(Root, "src/K3dEtcd.Engine/Docker/DockerAdapter.cs")));
    }

    [Fact]
    public void The_Docker_adapter_knows_nothing_about_etcd()
    {
        // Code only: doc comments may say what it does not do, and the root namespace is K3dEtcd.
        var files = Directory.GetFiles(Path.Combine(Root, "src/K3dEtcd.Engine/Docker"), "DockerAdapter*.cs");
        Assert.True(files.Length >= 2, "DockerAdapter.cs and its translation partial");
        foreach (var file in files)
        {
            var text = CodeOnly(File.ReadAllText(file)).Replace("K3dEtcd", "");
            foreach (var word in new[] { "Etcd", "etcd", "Labels.", "2379", "EtcdCluster" })
                Assert.False(text.Contains(word, StringComparison.Ordinal), $"{Path.GetFileName(file)} mentions '{word}'.");
        }
    }

    private static string CodeOnly(string text) =>
        string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal)));

    /// <summary>
    /// The runtime boundary: Docker.DotNet's types and exceptions are translated in Docker/ alone,
    /// so the rest of the engine speaks in its own types (ContainerSpec, ContainerInfo,
    /// DockerOperationException) and could run on another container runtime.
    /// </summary>
    [Fact]
    public void Docker_DotNet_is_named_only_under_the_Docker_folder()
    {
        var name = new Regex(@"\bDocker\.DotNet\b|\bDockerApiException\b|\bDocker(Container|Image|Network)NotFoundException\b|\bIDockerClient\b|\b(ContainerListResponse|ContainerInspectResponse|CreateContainerParameters|HostConfig|PortBinding)\b");
        var outside = Sources("src").Where(f => !Rel(f).StartsWith("src/K3dEtcd.Engine/Docker/", StringComparison.Ordinal)).ToList();
        var offenders = outside.SelectMany(f => name.Matches(CodeOnly(File.ReadAllText(f))).Select(m => $"{Rel(f)}: {m.Value}")).Distinct().ToList();
        Assert.True(offenders.Count == 0, "Docker.DotNet named outside src/K3dEtcd.Engine/Docker/: " + string.Join(", ", offenders));
        // The check sees real names: the adapter itself names them.
        Assert.Matches(name, File.ReadAllText(Path.Combine(Root, "src/K3dEtcd.Engine/Docker/DockerAdapter.Translation.cs")));
        Assert.Contains(outside, f => Rel(f).StartsWith("src/K3dEtcd.Engine/Clusters/", StringComparison.Ordinal));
    }

    /// <summary>
    /// The namespace edges of src/: a using line, or a qualified name (Operations.X or
    /// K3dEtcd.Operations.X) of a type that namespace declares, which a using-only scan misses.
    /// </summary>
    private static Dictionary<string, HashSet<string>> NamespaceEdges()
    {
        var files = Sources("src").Select(f => (Text: File.ReadAllText(f), Ns: Regex.Match(File.ReadAllText(f), @"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline).Groups[1].Value))
            .Where(x => x.Ns.Length > 0).ToList();
        var types = files.GroupBy(x => x.Ns).ToDictionary(g => g.Key,
            g => g.SelectMany(x => Regex.Matches(x.Text, @"\b(?:class|record|struct|interface|enum)\s+(\w+)").Select(m => m.Groups[1].Value)).ToHashSet());
        var edges = new Dictionary<string, HashSet<string>>();
        foreach (var (text, ns) in files)
        {
            var set = edges.TryGetValue(ns, out var s) ? s : edges[ns] = [];
            foreach (Match u in Regex.Matches(text, @"^using\s+(K3dEtcd[\w.]*)\s*;", RegexOptions.Multiline))
                if (u.Groups[1].Value != ns) set.Add(u.Groups[1].Value);
            var code = Regex.Replace(text, @"//.*", "");
            foreach (var (other, names) in types.Where(kv => kv.Key != ns && kv.Key.StartsWith("K3dEtcd.", StringComparison.Ordinal)))
            {
                var shortName = Regex.Escape(other["K3dEtcd.".Length..]);
                if (Regex.Matches(code, $@"(?<![\w.])(?:K3dEtcd\.)?{shortName}\.(\w+)").Any(m => names.Contains(m.Groups[1].Value))) set.Add(other);
            }
        }
        return edges;
    }

    [Fact]
    public void Namespaces_do_not_use_each_other_in_a_circle()
    {
        var edges = NamespaceEdges();
        Assert.Contains("K3dEtcd.Clusters", edges.Keys);
        Assert.Contains("K3dEtcd.Docker", edges["K3dEtcd.Clusters"]);   // the check sees real edges
        Assert.Contains("K3dEtcd.Clusters", edges["K3dEtcd.Operations"]);   // seen through a using line or a qualified name

        // Depth-first search for a back edge.
        var state = new Dictionary<string, int>();
        var path = new Stack<string>();
        string? cycle = null;
        void Visit(string n)
        {
            if (cycle is not null) return;
            state[n] = 1; path.Push(n);
            foreach (var m in edges.TryGetValue(n, out var next) ? next : [])
            {
                if (state.GetValueOrDefault(m) == 1) { cycle = string.Join(" <- ", path.Reverse().SkipWhile(x => x != m).Reverse().Prepend(m)); return; }
                if (state.GetValueOrDefault(m) == 0) Visit(m);
            }
            path.Pop(); state[n] = 2;
        }
        foreach (var n in edges.Keys) if (state.GetValueOrDefault(n) == 0) Visit(n);
        Assert.True(cycle is null, "Namespace cycle: " + cycle);
    }

    [Fact]
    public void Every_engine_file_is_in_the_namespace_of_its_folder()
    {
        var engine = Path.Combine(Root, "src/K3dEtcd.Engine");
        var offenders = Sources("src/K3dEtcd.Engine").Select(f =>
        {
            var folder = Path.GetRelativePath(engine, Path.GetDirectoryName(f)!).Split(Path.DirectorySeparatorChar)[0];
            var ns = Regex.Match(File.ReadAllText(f), @"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline).Groups[1].Value;
            return (File: Rel(f), Expected: $"K3dEtcd.{folder}", Ns: ns);
        }).Where(x => x.Ns != x.Expected).Select(x => $"{x.File} is in {x.Ns}, not {x.Expected}").ToList();
        Assert.True(offenders.Count == 0, string.Join(Environment.NewLine, offenders));
    }

    [Fact]
    public void No_cmdlet_or_completer_constructs_an_engine_wide_service()
    {
        var construct = new Regex(@"new\s+(EtcdClusterService|EtcdMemberService|EtcdRestoreService|EtcdFailoverService|K3dClusterService|K3dEngineService|DatastoreProbe|DockerAdapter)\s*\(");
        var offenders = Sources("src/K3dEtcd").SelectMany(f => construct.Matches(File.ReadAllText(f)).Select(m => $"{Rel(f)}: {m.Value}")).ToList();
        Assert.True(offenders.Count == 0, "Construct these in EtcdServices (src/K3dEtcd.Engine/Services/): " + string.Join(", ", offenders));
    }

    [Fact]
    public void No_cmdlet_or_completer_constructs_an_engine_wide_service_with_a_target_typed_new()
    {
        // `Task<EtcdMemberService> Get() => new(...)` or `EtcdMemberService s = new(...)`: the name is on the declaration, not after `new`.
        var construct = new Regex(@"\b(EtcdClusterService|EtcdMemberService|EtcdRestoreService|EtcdFailoverService|K3dClusterService|K3dEngineService|DatastoreProbe|DockerAdapter)>?\??\s+\w+\s*(?:\([^)]*\))?\s*(?:=>|=)\s*new\s*\(");
        var offenders = Sources("src/K3dEtcd").SelectMany(f => construct.Matches(File.ReadAllText(f)).Select(m => $"{Rel(f)}: {Regex.Replace(m.Value, @"\s+", " ")}")).ToList();
        Assert.True(offenders.Count == 0, "Construct these in EtcdServices (src/K3dEtcd.Engine/Services/): " + string.Join(", ", offenders));
        Assert.Matches(construct, "protected async Task<EtcdMemberService> GetAsync(CancellationToken ct) =>\n        new(clusters, log);");
    }

    [Fact]
    public void No_source_file_is_over_400_lines_without_saying_why_at_its_top()
    {
        var offenders = Sources("src").Concat(Sources("tests/K3dEtcd.Tests"))
            .Select(f => (File: f, Lines: File.ReadAllLines(f)))
            .Where(x => x.Lines.Length > 400 && !x.Lines.Take(15).Any(l => l.Contains("Long because", StringComparison.OrdinalIgnoreCase)))
            .Select(x => $"{Rel(x.File)} ({x.Lines.Length} lines)").ToList();
        Assert.True(offenders.Count == 0, "Over 400 lines with no 'Long because' note in the first 15 lines: " + string.Join(", ", offenders));
    }
}
