using System.Text;
using System.Text.RegularExpressions;
using K3dEtcd.Common;

namespace K3dEtcd.Tests;

/// <summary>
/// The error catalogue is the one list of ErrorIds: code may not use an id it does not declare, the
/// tests may not assert one, and about_K3dEtcd shows exactly this list (users script on it).
/// These read the sources, so they need the repository (they run from its build output).
/// </summary>
public sealed class ErrorCatalogTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "K3dEtcd.sln"))) dir = dir.Parent;
        Assert.True(dir is not null, $"No K3dEtcd.sln above {AppContext.BaseDirectory}.");
        return dir!.FullName;
    }

    private static IEnumerable<(string File, string Text)> Sources(string folder, string pattern) =>
        Directory.EnumerateFiles(Path.Combine(Root, folder), pattern, SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => (Path.GetRelativePath(Root, f), File.ReadAllText(f)));

    // Every way code names an ErrorId: a catalogue entry, a string passed where an id goes, a comparison.
    private static readonly Regex[] CodeIdPatterns =
    [
        new(@"ErrorCatalog\.(?<id>[A-Za-z0-9]+)\b(?!\s*\()"),
        new(@"K3dEtcdException\(\s*""(?<id>[A-Za-z0-9]+)"""),
        new(@"new\(\s*""(?<id>[A-Za-z0-9]+)"",\s*(?:Common\.)?FailureKind"),
        new(@"ErrorId\s*(?:==|!=|is(?:\s+not)?)\s*\(?\s*""(?<id>[A-Za-z0-9]+)"""),
        new(@"ErrorRecord\([^;]*?,\s*""(?<id>[A-Za-z0-9]+)"",\s*ErrorCategory"),
    ];

    private static readonly HashSet<string> NotIds = ["All", "Find", "Item", "Session"];

    [Fact]
    public void Every_error_id_in_the_sources_is_declared_in_the_catalogue()
    {
        var used = new List<(string Id, string File)>();
        foreach (var (file, text) in Sources("src", "*.cs"))
            foreach (var pattern in CodeIdPatterns)
                foreach (Match m in pattern.Matches(text))
                    if (!NotIds.Contains(m.Groups["id"].Value)) used.Add((m.Groups["id"].Value, file));

        Assert.True(used.Count > 100, $"Found only {used.Count} error-id uses in src/: the patterns no longer match the code.");
        var unknown = used.Where(u => ErrorCatalog.Find(u.Id) is null).Select(u => $"{u.Id} ({u.File})").Distinct().ToList();
        Assert.True(unknown.Count == 0, "ErrorIds used in code but missing from ErrorCatalog: " + string.Join(", ", unknown));
    }

    [Fact]
    public void Throw_sites_go_through_the_catalogue_not_string_literals()
    {
        var literal = new Regex(@"K3dEtcdException\(\s*""|new\(\s*""[A-Za-z0-9]+"",\s*(?:Common\.)?FailureKind|ErrorId\s*(?:==|!=|is)\s*\(?\s*""");
        var offenders = Sources("src", "*.cs").Where(s => literal.IsMatch(s.Text)).Select(s => s.File).ToList();
        Assert.True(offenders.Count == 0, "Use ErrorCatalog.<Id> instead of a string ErrorId in: " + string.Join(", ", offenders));
    }

    [Fact]
    public void Every_error_id_the_tests_assert_is_declared_in_the_catalogue()
    {
        // Every way a test writes an ErrorId; each pattern must still find some, or it no longer matches the tests.
        var patterns = new (string Form, Regex Pattern)[]
        {
            ("xunit Assert.Equal", new(@"Assert\.Equal\(\s*""(?<id>[A-Za-z0-9]+)"",\s*[^;]*ErrorId")),
            ("xunit tuple or list on an ErrorId line", new(@"^(?=.*\bErrorId\b).*$", RegexOptions.Multiline)),
            ("Pester FullyQualifiedErrorId", new(@"'(?<id>[A-Za-z0-9]+),(?:\*|K3dEtcd\.Commands\.[A-Za-z.]+)'")),
            ("Pester -ForEach table entry", new(@"\b(?:Id|ErrorId)\s*=\s*'(?<id>[A-Z][A-Za-z0-9]+)'")),
            ("Pester regex '^Id,' or '^(A|B),'", new(@"'\^\(?(?<id>[A-Za-z0-9]+(?:\|[A-Za-z0-9]+)*)\)?,")),
        };
        // On an ErrorId line of C#, the PascalCase string literals: ("ClusterExists", FailureKind...), new[] { "EtcdUnreachable", ... }.
        var literal = new Regex(@"""(?<id>[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)""");
        IEnumerable<string> Ids(string form, Match m) => form.StartsWith("xunit tuple", StringComparison.Ordinal)
            ? literal.Matches(m.Value).Select(l => l.Groups["id"].Value)
            : m.Groups["id"].Value.Split('|');
        var found = Sources("tests/K3dEtcd.Tests", "*.cs").Where(s => !s.File.EndsWith("ErrorCatalogTests.cs", StringComparison.Ordinal))
            .Select(s => (s.File, s.Text, IsCs: s.File.EndsWith(".cs", StringComparison.Ordinal)))
            .Concat(Sources("tests/Pester", "*.ps1").Select(s => (s.File, s.Text, IsCs: false)))
            .SelectMany(s => patterns.Where(p => p.Form.StartsWith("xunit", StringComparison.Ordinal) == s.IsCs)
                .SelectMany(p => p.Pattern.Matches(s.Text).SelectMany(m => Ids(p.Form, m)).Select(id => (p.Form, Id: id, s.File))))
            .ToList();
        foreach (var (form, _) in patterns)
        {
            Assert.True(found.Any(f => f.Form == form), $"No ErrorId written as {form} found in tests/: the pattern no longer matches.");
        }
        var asserted = found.Select(f => (f.Id, f.File)).ToList();
        Assert.True(asserted.Count > 20, $"Found only {asserted.Count} asserted ErrorIds in tests/: the patterns no longer match.");
        var unknown = asserted.Where(a => ErrorCatalog.Find(a.Id) is null && !PowerShellIds.Contains(a.Id)).Select(a => $"{a.Id} ({a.File})").Distinct().ToList();
        Assert.True(unknown.Count == 0, "Tests assert ErrorIds that the catalogue does not declare: " + string.Join(", ", unknown));
    }

    // PowerShell's parameter binder reports these before any of our code runs; tests assert them too.
    private static readonly HashSet<string> PowerShellIds =
        ["ParameterArgumentValidationError", "CannotConvertArgumentNoMessage", "InputObjectMissingMandatory", "InputObjectNotBound"];

    [Fact]
    public void Every_catalogue_entry_is_used_by_code_and_says_what_it_means()
    {
        var code = string.Join('\n', Sources("src", "*.cs").Where(s => !s.File.EndsWith("ErrorCatalog.cs")).Select(s => s.Text));
        Assert.True(ErrorCatalog.All.Count >= 100, $"Only {ErrorCatalog.All.Count} entries.");
        foreach (var e in ErrorCatalog.All)
        {
            Assert.Matches("^[A-Z][A-Za-z0-9]+$", e.Id);
            Assert.False(string.IsNullOrWhiteSpace(e.Meaning), e.Id);
            Assert.DoesNotContain('\n', e.Meaning);
            Assert.True(code.Contains($"ErrorCatalog.{e.Id}"), $"{e.Id} is declared but no code reports it.");
        }
        Assert.Equal(ErrorCatalog.All.Count, ErrorCatalog.All.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public void The_catalogue_decides_which_failures_end_a_command()
    {
        // The environment: no later input of the same command can do better.
        var session = ErrorCatalog.All.Where(e => e.Scope == ErrorScope.Session).Select(e => e.Id).Order().ToList();
        Assert.Equal(["DockerUnreachable", "K3dNotFound", "UnsupportedK3dVersion"], session);
        var ex = new K3dEtcdException(ErrorCatalog.ClusterExists, "x");
        Assert.Equal(("ClusterExists", FailureKind.ResourceExists, ErrorScope.Item), (ex.ErrorId, ex.Kind, ex.Definition!.Scope));
    }

    private const string HelpFile = "src/K3dEtcd/Help/about_K3dEtcd.help.txt";
    private const string ListStart = "    The ErrorIds, with their category:";

    /// <summary>The list as about_K3dEtcd shows it; K3DETCD_UPDATE_HELP=1 writes it into the file.</summary>
    internal static string RenderHelpList()
    {
        var sb = new StringBuilder();
        sb.Append(ListStart).Append('\n');
        foreach (var e in ErrorCatalog.All)
        {
            sb.Append("    ").Append(e.Id).Append(" (").Append(e.Kind).Append(e.Scope == ErrorScope.Session ? ", ends the command" : "").Append(")\n");
            foreach (var line in Wrap(e.Meaning, 80 - 8)) sb.Append("        ").Append(line).Append('\n');
        }
        return sb.ToString();
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width) { yield return line.ToString(); line.Clear(); }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0) yield return line.ToString();
    }

    [Fact]
    public void About_K3dEtcd_lists_exactly_the_catalogue()
    {
        var path = Path.Combine(Root, HelpFile);
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        var start = text.IndexOf(ListStart + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{HelpFile} has no line '{ListStart.Trim()}'.");
        var end = text.IndexOf("\n\n", start, StringComparison.Ordinal);
        Assert.True(end > start, $"The ErrorId list in {HelpFile} must end with a blank line.");
        var shown = text[start..(end + 1)];
        var expected = RenderHelpList();
        if (shown != expected && Environment.GetEnvironmentVariable("K3DETCD_UPDATE_HELP") == "1")
        {
            File.WriteAllText(path, text[..start] + expected + text[(end + 1)..]);
            shown = expected;
        }
        Assert.True(shown == expected, $"{HelpFile} does not list the ErrorCatalog (run the test with K3DETCD_UPDATE_HELP=1 to rewrite it). Expected:\n{expected}");
    }

    private const string ReadmeStart = "<!-- error-catalogue:start (generated from src/K3dEtcd.Model/Errors/ErrorCatalog.cs by ErrorCatalogTests) -->";
    private const string ReadmeEnd = "<!-- error-catalogue:end -->";

    /// <summary>README's table of ErrorIds: every catalogue entry, its category and meaning, in catalogue order.</summary>
    internal static string RenderReadmeTable()
    {
        var sb = new StringBuilder();
        sb.Append(ReadmeStart).Append('\n');
        sb.Append("| ErrorId | Category | Meaning |\n|---|---|---|\n");
        foreach (var e in ErrorCatalog.All)
        {
            sb.Append("| `").Append(e.Id).Append("` | ").Append(e.Kind).Append(e.Scope == ErrorScope.Session ? " (ends the command)" : "")
              .Append(" | ").Append(e.Meaning.Replace("|", "\\|")).Append(" |\n");
        }
        sb.Append(ReadmeEnd);
        return sb.ToString();
    }

    [Fact]
    public void Readme_error_section_lists_exactly_the_catalogue()
    {
        var path = Path.Combine(Root, "README.md");
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        var start = text.IndexOf(ReadmeStart, StringComparison.Ordinal);
        var end = text.IndexOf(ReadmeEnd, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"README.md has no generated ErrorId table ({ReadmeStart} ... {ReadmeEnd}).");
        var shown = text[start..(end + ReadmeEnd.Length)];
        var expected = RenderReadmeTable();
        if (shown != expected && Environment.GetEnvironmentVariable("K3DETCD_UPDATE_HELP") == "1")
        {
            File.WriteAllText(path, text[..start] + expected + text[(end + ReadmeEnd.Length)..]);
            shown = expected;
        }
        Assert.True(shown == expected, "README.md's ErrorId table differs from ErrorCatalog (run the test with K3DETCD_UPDATE_HELP=1 to rewrite it).");
    }
}
