// A fake `k3d` for tests: no k3d binary or k3s image can run on the test machines. It follows the
// real CLI's rules for the version it is told to be (flags per version, node filters and their
// error texts, `\@` escaping, log format, exit codes, `cluster list -o json` shape), keeps its
// clusters as JSON files in a state directory, records every argv, and never touches Docker.
//
// Environment:
//   FAKE_K3D_VERSION          k3d version to be (default v5.8.3); v1.x/v0.x know no `cluster` command
//   FAKE_K3D_K3S_VERSION      default k3s version printed by `k3d version`
//   FAKE_K3D_STATE_DIR        where clusters are kept (default: <temp>/fake-k3d-state)
//   FAKE_K3D_ARGV_LOG         file that gets one JSON line per invocation: {"argv":[...],"version":...}
//   FAKE_K3D_FAIL_CREATE      "1": `cluster create` fails the way k3d does when a server never gets
//                             ready (k3d rolls back itself); "norollback": fails and leaves the
//                             half-made cluster (k3d's own roll-back failed)
//   FAKE_K3D_CREATE_DELAY_MS  sleep this long after the nodes are created (to test Ctrl+C)
//   --config FILE             read like k3d v4+ does (JSON-style YAML only): apiVersion must be one
//                             this version reads (v4: k3d.io/v1alpha2; v5.0-5.2 also v1alpha3; v5.3+
//                             v1alpha4; v5.5+ v1alpha5), unknown top-level keys are refused (the
//                             schemas say additionalProperties: false); `token` and `env` merge with
//                             the flags, the flags win. The argv log line also records the file
//                             (path, content, apiVersion, Unix modes of file and directory).
//   LOG_COLORS, KUBECONFIG    honoured like real k3d (the default kubeconfig is only written when
//                             KUBECONFIG is set, so a test can never touch ~/.kube/config)
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FakeK3d;

internal sealed class Fatal(string message) : Exception(message);

internal static partial class Program
{
    private static Version _version = new(5, 8, 3);
    private static string _versionText = "v5.8.3";
    private static bool _colors = true;
    private static readonly DateTime Started = DateTime.UtcNow;

    private static int Main(string[] args)
    {
        _versionText = Environment.GetEnvironmentVariable("FAKE_K3D_VERSION") is { Length: > 0 } v ? v : "v5.8.3";
        _version = ParseVersion(_versionText);
        if (bool.TryParse(Environment.GetEnvironmentVariable("LOG_COLORS"), out var colors)) _colors = colors;
        RecordArgv(args);
        try
        {
            return Run(args);
        }
        catch (Fatal f)
        {
            Log("fatal", f.Message);
            return 1;
        }
    }

    private static Version ParseVersion(string text)
    {
        var m = Regex.Match(text, @"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?");
        return m.Success
            ? new Version(int.Parse(m.Groups[1].Value), m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : 0, m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : 0)
            : new Version(5, 8, 3);
    }

    private static bool AtLeast(int major, int minor = 0, int patch = 0) => _version >= new Version(major, minor, patch);

    private static void RecordArgv(string[] args)
    {
        var path = Environment.GetEnvironmentVariable("FAKE_K3D_ARGV_LOG");
        if (string.IsNullOrEmpty(path)) return;
        object? config = null;
        var at = Array.FindIndex(args, a => a is "--config" or "-c");
        var configPath = at >= 0 && at + 1 < args.Length ? args[at + 1] : args.FirstOrDefault(a => a.StartsWith("--config=", StringComparison.Ordinal))?["--config=".Length..];
        if (configPath is not null && File.Exists(configPath))
        {
            var content = File.ReadAllText(configPath);
            string? apiVersion = null;
            try { apiVersion = JsonNode.Parse(content)?["apiVersion"]?.GetValue<string>(); } catch (JsonException) { }
            string Mode(string path) => OperatingSystem.IsWindows() ? "" : Convert.ToString((int)File.GetUnixFileMode(path) & 0x1ff, 8);
            config = new { path = Path.GetFullPath(configPath), content, apiVersion, mode = Mode(configPath), dirMode = Mode(Path.GetDirectoryName(Path.GetFullPath(configPath))!) };
        }
        var line = JsonSerializer.Serialize(new { argv = args, version = _versionText, config }) + "\n";
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                using var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None);
                var bytes = Encoding.UTF8.GetBytes(line);
                fs.Write(bytes);
                return;
            }
            catch (IOException) { Thread.Sleep(20); }
        }
    }

    // ------------------------------------------------------------------ logging like logrus in k3d

    private static void Log(string level, string message)
    {
        var toStderr = level is "warning" or "error" or "fatal" or "panic";
        string line;
        if (_colors)
        {
            var color = level switch { "warning" => 33, "error" or "fatal" or "panic" => 31, "debug" or "trace" => 37, _ => 36 };
            var text = level.ToUpperInvariant()[..4];
            var secs = (int)(DateTime.UtcNow - Started).TotalSeconds;
            line = $"\u001b[{color}m{text}\u001b[0m[{secs:0000}] {message,-44} ";
        }
        else
        {
            line = $"time=\"{DateTime.Now.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture)}\" level={level} msg=\"{message.Replace("\"", "\\\"")}\"";
        }
        (toStderr ? Console.Error : Console.Out).WriteLine(line);
        (toStderr ? Console.Error : Console.Out).Flush();
    }

    private static void Info(string m) => Log("info", m);

    // ------------------------------------------------------------------ cobra-like parsing

    private enum Kind { Bool, String, Int, Array, Duration }

    private sealed record Flag(string Name, string? Short, Kind Kind);

    private sealed class Parsed
    {
        public List<string> Args { get; } = [];
        public Dictionary<string, List<string>> Values { get; } = new(StringComparer.Ordinal);
        public string? One(string name) => Values.TryGetValue(name, out var v) ? v[^1] : null;
        public List<string> All(string name) => Values.TryGetValue(name, out var v) ? v : [];
        public bool Bool(string name, bool dflt) => One(name) is { } s ? bool.Parse(s) : dflt;
    }

    private static Parsed Parse(string usage, IEnumerable<Flag> flags, string[] args)
    {
        var all = flags.Concat([new Flag("verbose", null, Kind.Bool), new Flag("trace", null, Kind.Bool), new Flag("help", "h", Kind.Bool)])
            .Concat(AtLeast(4) ? [new Flag("timestamps", null, Kind.Bool)] : []).ToList();
        var parsed = new Parsed();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--") { parsed.Args.AddRange(args[(i + 1)..]); break; }
            Flag? flag;
            string? value = null;
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                var body = a[2..];
                var eq = body.IndexOf('=');
                var name = eq >= 0 ? body[..eq] : body;
                if (eq >= 0) value = body[(eq + 1)..];
                flag = all.FirstOrDefault(f => f.Name == name);
                if (flag is null) Usage(usage, $"unknown flag: --{name}");
            }
            else if (a.StartsWith('-') && a.Length > 1)
            {
                var sh = a[1].ToString();
                flag = all.FirstOrDefault(f => f.Short == sh);
                if (flag is null) Usage(usage, $"unknown shorthand flag: '{sh}' in {a}");
                if (a.Length > 2) value = a[2] == '=' ? a[3..] : a[2..];
            }
            else
            {
                parsed.Args.Add(a);
                continue;
            }
            if (flag!.Kind == Kind.Bool)
            {
                value ??= "true";
                if (!bool.TryParse(value, out _)) Usage(usage, $"invalid argument \"{value}\" for \"--{flag.Name}\" flag: strconv.ParseBool: parsing \"{value}\": invalid syntax");
            }
            else if (value is null)
            {
                if (i + 1 >= args.Length) Usage(usage, $"flag needs an argument: --{flag.Name}");
                value = args[++i];
            }
            if (flag.Kind == Kind.Int && !int.TryParse(value, out _))
                Usage(usage, $"invalid argument \"{value}\" for \"--{flag.Name}\" flag: strconv.ParseInt: parsing \"{value}\": invalid syntax");
            if (flag.Kind == Kind.Duration && ParseDuration(value!) is null)
                Usage(usage, $"invalid argument \"{value}\" for \"--{flag.Name}\" flag: time: invalid duration \"{value}\"");
            if (!parsed.Values.TryGetValue(flag.Name, out var list)) parsed.Values[flag.Name] = list = [];
            list.Add(value!);
        }
        return parsed;
    }

    private static TimeSpan? ParseDuration(string s)
    {
        if (s == "0") return TimeSpan.Zero;
        var m = Regex.Match(s, @"^((\d+(\.\d+)?)(h|m|s|ms))+$");
        if (!m.Success) return null;
        var total = TimeSpan.Zero;
        foreach (Match part in Regex.Matches(s, @"(\d+(?:\.\d+)?)(h|ms|m|s)"))
        {
            var n = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch { "h" => TimeSpan.FromHours(n), "m" => TimeSpan.FromMinutes(n), "ms" => TimeSpan.FromMilliseconds(n), _ => TimeSpan.FromSeconds(n) };
        }
        return total;
    }

    /// <summary>What cobra does on a flag error: "Error: ..." and usage on stderr; then k3d's Fatalln of the same error.</summary>
    private static void Usage(string usage, string error)
    {
        Console.Error.WriteLine($"Error: {error}");
        Console.Error.WriteLine("Usage:");
        Console.Error.WriteLine($"  {usage}");
        Console.Error.WriteLine();
        throw new Fatal(error);
    }

    // ------------------------------------------------------------------ commands

    private static int Run(string[] args)
    {
        var positional = args.Where(a => !a.StartsWith('-')).ToList();
        if (args.Length == 1 && args[0] == "--version") { PrintVersion(); return 0; }
        if (positional.Count == 0) { Console.WriteLine("k3d is a wrapper CLI that helps you to easily create k3s clusters inside docker."); return 0; }

        if (!AtLeast(3))
        {
            // k3d v1 (urfave/cli): `k3d version` works, the v3+ command tree does not exist.
            if (positional[0] == "version") { Console.WriteLine($"k3d version {_versionText}"); return 0; }
            Console.Error.WriteLine($"No help topic for '{positional[0]}'");
            return 3;
        }

        var rest = args.ToList();
        rest.Remove(positional[0]);
        switch (positional[0])
        {
            case "version":
                return Version(rest.ToArray());
            case "cluster":
                if (positional.Count < 2) { Console.WriteLine("Manage cluster(s)"); return 0; }
                rest.Remove(positional[1]);
                return positional[1] switch
                {
                    "create" => ClusterCreate(rest.ToArray()),
                    "list" or "ls" or "get" => ClusterList(rest.ToArray()),
                    "delete" or "del" or "rm" => ClusterDelete(rest.ToArray()),
                    _ => UnknownCommand(positional[1], "k3d cluster"),
                };
            case "kubeconfig":
                if (positional.Count < 2) { Console.WriteLine("Manage kubeconfig(s)"); return 0; }
                rest.Remove(positional[1]);
                return positional[1] switch
                {
                    "get" or "print" or "show" => KubeconfigGet(rest.ToArray()),
                    "merge" or "write" => KubeconfigMerge(rest.ToArray(), positional[1]),
                    _ => UnknownCommand(positional[1], "k3d kubeconfig"),
                };
            default:
                return UnknownCommand(positional[0], "k3d");
        }
    }

    private static int UnknownCommand(string command, string parent)
    {
        Console.Error.WriteLine($"Error: unknown command \"{command}\" for \"{parent}\"");
        Console.Error.WriteLine($"Run '{parent} --help' for usage.");
        throw new Fatal($"unknown command \"{command}\" for \"{parent}\"");
    }

    private static string K3sVersion() =>
        Environment.GetEnvironmentVariable("FAKE_K3D_K3S_VERSION") is { Length: > 0 } k ? k
        : _version.Major >= 5 ? "v1.31.5-k3s1" : _version.Major == 4 ? "v1.21.7-k3s1" : "v1.18.9-k3s1";

    private static void PrintVersion()
    {
        Console.WriteLine($"k3d version {_versionText}");
        Console.WriteLine($"k3s version {K3sVersion()} (default)");
    }

    private static int Version(string[] args)
    {
        var p = Parse("k3d version [flags]", AtLeast(5, 5) ? [new Flag("output", "o", Kind.String)] : [], args);
        if (p.Args.Count > 0) Usage("k3d version [flags]", $"unknown command \"{p.Args[0]}\" for \"k3d version\"");
        if (p.One("output") == "json")
        {
            Console.WriteLine(JsonSerializer.Serialize(new { k3d = _versionText, k3s = K3sVersion() }));
            return 0;
        }
        PrintVersion();
        return 0;
    }

    private static List<Flag> CreateFlags()
    {
        var f = new List<Flag>
        {
            new("api-port", null, Kind.String), new("servers", "s", Kind.Int), new("agents", "a", Kind.Int),
            new("image", "i", Kind.String), new("network", null, Kind.String), new("token", null, Kind.String),
            new("volume", "v", Kind.Array), new("port", "p", Kind.Array), new("wait", null, Kind.Bool),
            new("timeout", null, Kind.Duration), new("no-lb", null, Kind.Bool), new("no-image-volume", null, Kind.Bool),
        };
        if (AtLeast(5))
        {
            f.AddRange([
                new("config", "c", Kind.String), new("env", "e", Kind.Array), new("k3s-node-label", null, Kind.Array),
                new("runtime-label", null, Kind.Array), new("registry-create", null, Kind.String), new("host-alias", null, Kind.Array),
                new("k3s-arg", null, Kind.Array), new("subnet", null, Kind.String), new("kubeconfig-update-default", null, Kind.Bool),
                new("kubeconfig-switch-context", null, Kind.Bool), new("no-rollback", null, Kind.Bool), new("gpus", null, Kind.String),
                new("servers-memory", null, Kind.String), new("agents-memory", null, Kind.String), new("registry-use", null, Kind.Array),
                new("registry-config", null, Kind.String), new("lb-config-override", null, Kind.Array)]);
            if (AtLeast(5, 5)) f.Add(new("runtime-ulimit", null, Kind.Array));
        }
        else if (AtLeast(4))
        {
            f.AddRange([
                new("config", "c", Kind.String), new("env", "e", Kind.Array), new("label", "l", Kind.Array),
                new("subnet", null, Kind.String), new("kubeconfig-update-default", null, Kind.Bool),
                new("kubeconfig-switch-context", null, Kind.Bool), new("no-rollback", null, Kind.Bool), new("no-hostip", null, Kind.Bool),
                new("gpus", null, Kind.String), new("servers-memory", null, Kind.String), new("agents-memory", null, Kind.String),
                new("registry-use", null, Kind.Array), new("registry-create", null, Kind.Bool), new("registry-config", null, Kind.String),
                new("k3s-server-arg", null, Kind.Array), new("k3s-agent-arg", null, Kind.Array)]);
        }
        else
        {
            f.AddRange([
                new("update-default-kubeconfig", null, Kind.Bool), new("switch-context", null, Kind.Bool),
                new("k3s-server-arg", null, Kind.Array), new("k3s-agent-arg", null, Kind.Array)]);
            if (AtLeast(3, 1)) f.AddRange([new("no-rollback", null, Kind.Bool), new("no-hostip", null, Kind.Bool)]);
            if (AtLeast(3, 4)) f.AddRange([new("label", "l", Kind.Array), new("env", "e", Kind.Array), new("gpus", null, Kind.String)]);
        }
        return f;
    }

    private sealed record Node(string Name, string Role, int Index)
    {
        public List<string> Env { get; } = [];
        public List<string> Args { get; } = [];
        public List<string> Volumes { get; } = [];
        public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
    }

    private static int ClusterCreate(string[] args)
    {
        const string usage = "k3d cluster create NAME [flags]";
        var p = Parse(usage, CreateFlags(), args);
        if (p.Args.Count > 1) Usage(usage, $"accepts between 0 and 1 arg(s), received {p.Args.Count}");
        var config = p.One("config") is { } configFile ? ReadConfig(configFile) : null;
        var name = p.Args.Count == 1 ? p.Args[0] : config?.Name ?? "k3s-default";
        var servers = int.Parse(p.One("servers") ?? "1", CultureInfo.InvariantCulture);
        var agents = int.Parse(p.One("agents") ?? "0", CultureInfo.InvariantCulture);
        var noLb = p.Bool("no-lb", false);
        var network = p.One("network");
        var image = p.One("image") ?? $"docker.io/rancher/k3s:{K3sVersion().Replace('+', '-')}";
        var timeout = p.One("timeout") is { } t ? ParseDuration(t)!.Value : TimeSpan.Zero;
        if (p.Values.ContainsKey("timeout") && timeout <= TimeSpan.Zero && !AtLeast(5)) throw new Fatal("--timeout DURATION must be >= 1s");
        if (!Regex.IsMatch(name, "^[a-zA-Z0-9][a-zA-Z0-9-]*$") || name.Length > 32)
            throw new Fatal($"Failed Cluster Configuration Validation: provided cluster name '{name}' does not match requirements: Invalid Cluster Name: name must be <= 32 characters and match [a-zA-Z0-9][a-zA-Z0-9-]*");
        if (servers < 1) throw new Fatal("Failed Cluster Configuration Validation: cluster must have at least one server node");

        var apiHostIp = "0.0.0.0";
        var apiPort = "";
        if (p.One("api-port") is { } apiSpec && apiSpec != "random")
        {
            var m = Regex.Match(apiSpec, @"^(?:(?<host>[^:]+):)?(?<port>\d+)$");
            if (!m.Success || int.Parse(m.Groups["port"].Value, CultureInfo.InvariantCulture) is < 1 or > 65535)
                throw new Fatal($"Failed to apply CLI overrides: failed to parse API Port spec: Failed to parse port mapping '{apiSpec}'");
            if (m.Groups["host"].Success) apiHostIp = m.Groups["host"].Value;
            apiPort = m.Groups["port"].Value;
        }
        if (apiPort == "") apiPort = (30000 + Math.Abs(name.GetHashCode() % 20000)).ToString(CultureInfo.InvariantCulture);

        var state = StateDir();
        if (File.Exists(ClusterFile(state, name))) throw new Fatal($"Failed to create cluster '{name}' because a cluster with that name already exists");

        // Nodes in k3d's order: the load balancer first, then servers, then agents.
        var nodes = new List<Node>();
        if (!noLb) nodes.Add(new Node($"k3d-{name}-serverlb", "loadbalancer", 0));
        for (var i = 0; i < servers; i++) nodes.Add(new Node($"k3d-{name}-server-{i}", "server", i));
        for (var i = 0; i < agents; i++) nodes.Add(new Node($"k3d-{name}-agent-{i}", "agent", i));

        // Same order of processing as k3d: splitting (applyCLIOverrides), then per-kind filtering (transform).
        var volumes = Split(p.All("volume"));
        var envs = Split(p.All("env"));
        if (config is not null) envs.InsertRange(0, config.Env);
        var k3sArgs = AtLeast(5) ? Split(p.All("k3s-arg")) : [];
        var labels = Split(AtLeast(5) ? p.All("runtime-label") : p.All("label"));
        foreach (var (value, filters) in volumes)
        {
            foreach (var n in Filter(nodes, filters, $"failed to filter nodes for volume mapping '{value}'")) n.Volumes.Add(value);
        }
        foreach (var (value, filters) in labels)
        {
            var key = value.Split('=')[0];
            if (AtLeast(5) && (key.StartsWith("k3s.", StringComparison.Ordinal) || key.StartsWith("k3d.", StringComparison.Ordinal) || key == "app"))
                throw new Fatal($"runtime label \"{key}\" is reserved for internal usage");
            if (filters.Count == 0 && nodes.Count > 1)
                throw new Fatal(AtLeast(5) ? $"RuntimeLabelmapping '{value}' lacks a node filter, but there's more than one node" : $"Labelmapping '{value}' lacks a node filter, but there's more than one node");
            foreach (var n in Filter(nodes, filters, $"failed to filter nodes for runtime label mapping '{value}'"))
            {
                var eq = value.IndexOf('=');
                n.Labels[eq < 0 ? value : value[..eq]] = eq < 0 ? "" : value[(eq + 1)..];
            }
        }
        foreach (var (value, filters) in envs)
        {
            if (filters.Count == 0 && nodes.Count > 1) throw new Fatal($"EnvVarMapping '{value}' lacks a node filter, but there's more than one node");
            foreach (var n in Filter(nodes, filters, $"failed to filter nodes for environment variable config '{value}'")) n.Env.Add(value);
        }
        foreach (var (value, filters) in k3sArgs)
        {
            if (filters.Count == 0 && nodes.Count > 1) throw new Fatal($"K3sExtraArg '{value}' lacks a node filter, but there's more than one node");
            foreach (var n in Filter(nodes, filters, $"failed to filter nodes for k3s extra args config '{value}'")) n.Args.Add(value);
        }
        if (!AtLeast(5))
        {
            foreach (var a in p.All("k3s-server-arg")) foreach (var n in nodes.Where(n => n.Role == "server")) n.Args.Add(a);
            foreach (var a in p.All("k3s-agent-arg")) foreach (var n in nodes.Where(n => n.Role == "agent")) n.Args.Add(a);
        }

        var netName = network ?? $"k3d-{name}";
        var token = p.One("token") ?? config?.Token ?? RandomToken();
        foreach (var n in nodes)
        {
            n.Labels["app"] = "k3d";
            n.Labels["k3d.cluster"] = name;
            n.Labels["k3d.role"] = n.Role;
            n.Labels["k3d.cluster.network"] = netName;
            n.Labels["k3d.cluster.network.external"] = network is null ? "false" : "true";
            n.Labels["k3d.cluster.token"] = token;
            n.Labels["k3d.version"] = _versionText;
            if (n.Role == "server")
            {
                n.Labels["k3d.server.api.host"] = apiHostIp;
                n.Labels["k3d.server.api.hostIP"] = apiHostIp;
                n.Labels["k3d.server.api.port"] = apiPort;
            }
        }

        Info("Prep: Network");
        Info(network is null ? $"Created network '{netName}'" : $"Re-using existing network '{netName}' ({Guid.NewGuid():N})");
        Info($"Created image volume k3d-{name}-images");
        Info("Starting new tools node...");
        if (servers > 1) Info("Creating initializing server node");
        foreach (var n in nodes.Where(n => n.Role != "loadbalancer")) Info($"Creating node '{n.Name}'");
        if (!noLb) Info($"Creating LoadBalancer 'k3d-{name}-serverlb'");
        Info("Using the k3d-tools node to gather environment information");

        var fail = Environment.GetEnvironmentVariable("FAKE_K3D_FAIL_CREATE");
        // The nodes exist (not started) from here on: a kill now leaves a half-made cluster, as with real k3d.
        SaveCluster(state, name, netName, network is not null, token, nodes, running: false, image, apiHostIp, apiPort, kubeconfig: false);
        if (int.TryParse(Environment.GetEnvironmentVariable("FAKE_K3D_CREATE_DELAY_MS"), out var delay) && delay > 0) Thread.Sleep(delay);

        Info($"Starting cluster '{name}'");
        var first = nodes.First(n => n.Role == "server");
        if (servers > 1) Info("Starting the initializing server...");
        Info($"Starting Node '{first.Name}'");
        if (!string.IsNullOrEmpty(fail))
        {
            Log("error", $"Failed Cluster Start: Failed to start server {first.Name}: Node {first.Name} failed to get ready: error waiting for log line `k3s is up and running` from node '{first.Name}': stopped returning log lines: node {first.Name} is running=false in status=exited");
            Log("error", "Failed to create cluster >>> Rolling Back");
            if (fail == "norollback")
            {
                Log("error", $"failed to delete cluster '{name}': Failed to delete container '{first.Name}'");
                throw new Fatal("Cluster creation FAILED, also FAILED to rollback changes!");
            }
            Info($"Deleting cluster '{name}'");
            File.Delete(ClusterFile(state, name));
            Info("Deleting 1 attached volumes...");
            throw new Fatal("Cluster creation FAILED, all changes have been rolled back!");
        }
        if (servers > 1) Info("Starting servers...");
        foreach (var n in nodes.Where(n => n.Role == "server" && n != first)) Info($"Starting Node '{n.Name}'");
        if (agents > 0) { Info("Starting agents..."); foreach (var n in nodes.Where(n => n.Role == "agent")) Info($"Starting Node '{n.Name}'"); }
        else Info("All agents already running.");
        Info("Starting helpers...");
        if (!noLb) Info($"Starting Node 'k3d-{name}-serverlb'");
        Info($"Injecting records for hostAliases (incl. host.k3d.internal) and for {nodes.Count} network members into CoreDNS configmap...");

        var updateDefault = AtLeast(4) ? p.Bool("kubeconfig-update-default", true) : p.Bool("update-default-kubeconfig", true);
        var merged = false;
        if (updateDefault)
        {
            if (Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 }) merged = true;
            else Log("warning", "fake k3d: KUBECONFIG is not set; not touching the default kubeconfig");
        }
        SaveCluster(state, name, netName, network is not null, token, nodes, running: true, image, apiHostIp, apiPort, merged);
        if (merged) WriteDefaultKubeconfig(state);
        Info($"Cluster '{name}' created successfully!");
        Info("You can now use it like this:");
        if (updateDefault && !(AtLeast(4) ? p.Bool("kubeconfig-switch-context", true) : p.Bool("switch-context", true)))
            Console.WriteLine($"kubectl config use-context k3d-{name}");
        else if (!updateDefault)
            Console.WriteLine($"export KUBECONFIG=$(k3d kubeconfig write {name})");
        Console.WriteLine("kubectl cluster-info");
        return 0;
    }

    private sealed record ConfigFile(string? Name, string? Token, List<(string Value, List<string> Filters)> Env);

    // Top-level keys of k3d's SimpleConfig schemas (pkg/config/<apiVersion>/schema.json), all with additionalProperties: false.
    private static readonly string[] V1Alpha2Keys = ["apiVersion", "kind", "name", "servers", "agents", "kubeAPI", "image", "network", "token", "volumes", "ports", "labels", "options", "env", "registries"];
    private static readonly string[] V1Alpha3Keys = ["apiVersion", "kind", "name", "servers", "agents", "kubeAPI", "image", "network", "subnet", "token", "volumes", "ports", "options", "env", "registries"];
    private static readonly string[] V1Alpha4Keys = [.. V1Alpha3Keys, "hostAliases"];
    private static readonly string[] V1Alpha5Keys = ["apiVersion", "kind", "metadata", "servers", "agents", "kubeAPI", "image", "network", "subnet", "token", "volumes", "manifests", "ports", "options", "env", "registries", "hostAliases"];

    /// <summary>What k3d accepts from --config for the version it is, and what it refuses.</summary>
    private static ConfigFile ReadConfig(string path)
    {
        if (!File.Exists(path)) throw new Fatal($"Failed to read config file {path}: open {path}: no such file or directory");
        JsonObject doc;
        try { doc = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new Fatal($"Config file {path} is empty"); }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new Fatal($"fake k3d: config file {path} is not JSON-style YAML (this fake reads only that): {ex.Message}");
        }
        var apiVersion = doc["apiVersion"]?.GetValue<string>() ?? throw new Fatal($"Schema Validation failed for config file {path}: apiVersion is required");
        if (doc["kind"]?.GetValue<string>() is not "Simple") throw new Fatal($"Schema Validation failed for config file {path}: kind must be one of the following: \"Simple\"");
        var readable = new List<string>();
        if (AtLeast(4)) readable.Add("k3d.io/v1alpha2");
        if (AtLeast(5)) readable.Add("k3d.io/v1alpha3");
        if (AtLeast(5, 3)) readable.Add("k3d.io/v1alpha4");
        if (AtLeast(5, 5)) readable.Add("k3d.io/v1alpha5");
        if (!readable.Contains(apiVersion)) throw new Fatal($"Failed to load config: unknown apiVersion '{apiVersion}' (k3d {_versionText} reads {string.Join(", ", readable)})");
        if (apiVersion != readable[^1]) Log("warning", $"Default config apiVersion is '{readable[^1]}', but you're using '{apiVersion}': consider migrating.");
        var keys = apiVersion switch { "k3d.io/v1alpha2" => V1Alpha2Keys, "k3d.io/v1alpha3" => V1Alpha3Keys, "k3d.io/v1alpha4" => V1Alpha4Keys, _ => V1Alpha5Keys };
        foreach (var (key, _) in doc)
        {
            if (!keys.Contains(key)) throw new Fatal($"Schema Validation failed for config file {path}: (root): Additional property {key} is not allowed");
        }
        string? Str(JsonNode? n, string what) => n is null ? null
            : n is JsonValue v && v.TryGetValue<string>(out var t) ? t
            : throw new Fatal($"Schema Validation failed for config file {path}: {what}: Invalid type. Expected: string");
        var env = new List<(string, List<string>)>();
        if (doc["env"] is { } envNode)
        {
            if (envNode is not JsonArray list) throw new Fatal($"Schema Validation failed for config file {path}: env: Invalid type. Expected: array");
            foreach (var item in list)
            {
                if (item is not JsonObject o) throw new Fatal($"Schema Validation failed for config file {path}: env.0: Invalid type. Expected: object");
                foreach (var (k, _) in o) if (k is not ("envVar" or "nodeFilters")) throw new Fatal($"Schema Validation failed for config file {path}: env.0: Additional property {k} is not allowed");
                var filters = o["nodeFilters"] is JsonArray f ? f.Select(x => Str(x, "env.nodeFilters") ?? "").ToList() : [];
                env.Add((Str(o["envVar"], "env.envVar") ?? "", filters));
            }
        }
        var name = apiVersion == "k3d.io/v1alpha5" ? Str(doc["metadata"]?["name"], "metadata.name") : Str(doc["name"], "name");
        return new ConfigFile(name, Str(doc["token"], "token"), env);
    }

    private static string RandomToken()
    {
        const string chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        return new string(Enumerable.Range(0, 20).Select(_ => chars[Random.Shared.Next(chars.Length)]).ToArray());
    }

    private static List<(string Value, List<string> Filters)> Split(List<string> flags) =>
        flags.Select(f => AtLeast(3, 4) ? SplitFiltersFromFlag(f) : SplitLegacy(f)).ToList();

    /// <summary>k3d's own rule (v3.4+): one unescaped '@' separates the value from ';'-separated node filters; '\@' is a literal '@'.</summary>
    private static (string, List<string>) SplitFiltersFromFlag(string flag)
    {
        if (!flag.Contains('@')) return (flag, []);
        var split = flag.Split('@');
        var pieces = new List<string>();
        var buffer = "";
        for (var i = 0; i < split.Length; i++)
        {
            var it = split[i];
            if (it.EndsWith('\\') && i != split.Length - 1)
            {
                if (it.EndsWith(@"\\", StringComparison.Ordinal))
                {
                    it = it[..^1];
                    Log("warning", $"The part '{it}' of the flag input '{flag}' ends with a double backslash, so we assume you want to escape the backslash before the '@'. That's the only time we do this.");
                }
                else
                {
                    buffer += it[..^1] + "@";
                    continue;
                }
            }
            pieces.Add(buffer + it);
            buffer = "";
        }
        var cap = AtLeast(5) ? "invalid" : "Invalid";
        if (pieces.Count > 2) throw new Fatal($"{cap} flag '{flag}': only one unescaped '@' allowed for node filter(s) (Escape literal '@' with '\\')");
        if (pieces.Count < 2) throw new Fatal($"{cap} flag '{flag}' includes unescaped '@' but is missing a node filter (Escape literal '@' with '\\')");
        return (pieces[0], pieces[1].Split(';').ToList());
    }

    private static (string, List<string>) SplitLegacy(string flag)
    {
        if (!flag.Contains('@')) return (flag, []);
        var split = flag.Split('@');
        if (split.Length > 2) throw new Fatal($"Invalid flag '{flag}': only one '@' for node filter allowed");
        if (split[0] == "" || split[1] == "") throw new Fatal($"Invalid flag '{flag}' includes '@' but is missing either an object or a filter");
        return (split[0], split[1].Split(';').ToList());
    }

    [GeneratedRegex(@"^(?<group>server|servers|agent|agents|loadbalancer|all)(?<subsetSpec>:(?<subset>(?<subsetList>(\d+,?)+)|(?<subsetRange>\d*-\d*)|(?<subsetWildcard>\*)))?(?<suffixSpec>:(?<suffix>[a-zA-Z]+))?$")]
    private static partial Regex FilterV5();

    [GeneratedRegex(@"^(?<group>server|agent|loadbalancer|all)(?<subsetSpec>\[(?<subset>(?<subsetList>(\d+,?)+)|(?<subsetRange>\d*:\d*)|(?<subsetWildcard>\*))\])?$")]
    private static partial Regex FilterV4();

    /// <summary>k3d's node filter resolution (pkg/util/filter.go): errors wrapped like k3d wraps them.</summary>
    private static List<Node> Filter(List<Node> nodes, List<string> filters, string context)
    {
        if (filters.Count == 0 || filters[0].Length == 0)
        {
            Log("warning", "No node filter specified");
            return nodes;
        }
        var result = new List<Node>();
        foreach (var filter in filters)
        {
            var m = (AtLeast(5) ? FilterV5() : FilterV4()).Match(filter);
            if (!m.Success) throw new Fatal($"{context}: Failed to parse node filters: invalid format or empty subset in '{filter}'");
            if (m.Groups["suffix"].Success && m.Groups["suffix"].Value != "") throw new Fatal($"{context}: error filtering with '{filter}': no suffix allowed in simple filter");
            var group = m.Groups["group"].Value;
            if (group == "all") return nodes;
            if (group == "loadbalancer")
            {
                var lb = nodes.FirstOrDefault(n => n.Role == "loadbalancer") ?? throw new Fatal($"{context}: Node filter '{filter}' targets a node that does not exist (disabled?)");
                return [lb];
            }
            var groupNodes = nodes.Where(n => n.Role == group.TrimEnd('s')).ToList();
            if (m.Groups["subsetList"].Success && m.Groups["subsetList"].Value != "")
            {
                foreach (var idx in m.Groups["subsetList"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var num = int.Parse(idx, CultureInfo.InvariantCulture);
                    if (num < 0 || num >= groupNodes.Count) throw new Fatal($"{context}: Index out of range: index '{num}' < 0 or > number of available nodes in filter '{filter}'");
                    if (!result.Contains(groupNodes[num])) result.Add(groupNodes[num]);
                }
            }
            else if (m.Groups["subsetRange"].Success && m.Groups["subsetRange"].Value != "")
            {
                var parts = m.Groups["subsetRange"].Value.Split(AtLeast(5) ? '-' : ':');
                var start = parts[0] == "" ? 0 : int.Parse(parts[0], CultureInfo.InvariantCulture);
                var end = parts[1] == "" ? groupNodes.Count - 1 : int.Parse(parts[1], CultureInfo.InvariantCulture);
                if (start < 0 || start >= groupNodes.Count) throw new Fatal($"{context}: Invalid subset range: start < 0 or > number of available nodes in '{filter}'");
                if (end < start || end >= groupNodes.Count) throw new Fatal($"{context}: Invalid subset range: end < start or > number of available nodes in '{filter}'");
                for (var i = start; i <= end; i++) if (!result.Contains(groupNodes[i])) result.Add(groupNodes[i]);
            }
            else if (m.Groups["subsetWildcard"].Value == "*")
            {
                foreach (var n in groupNodes) if (!result.Contains(n)) result.Add(n);
            }
            else
            {
                throw new Fatal($"{context}: Failed to parse node specifiers: unknown subset in '{filter}'");
            }
        }
        return result;
    }

    // ------------------------------------------------------------------ state

    private static string StateDir()
    {
        var dir = Environment.GetEnvironmentVariable("FAKE_K3D_STATE_DIR") is { Length: > 0 } d ? d : Path.Combine(Path.GetTempPath(), "fake-k3d-state");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string ClusterFile(string state, string name) => Path.Combine(state, name + ".json");

    /// <summary>Stores the cluster as the object `k3d cluster list -o json` prints (k3d's JSON tags; NodeState and nat types are Go-cased).</summary>
    private static void SaveCluster(string state, string name, string network, bool external, string token, List<Node> nodes, bool running,
        string image, string apiHostIp, string apiPort, bool kubeconfig)
    {
        var v5 = AtLeast(5);
        var nodeArray = new JsonArray();
        foreach (var n in nodes)
        {
            var node = new JsonObject
            {
                ["name"] = n.Name,
                ["role"] = n.Role,
                ["image"] = n.Role == "loadbalancer" ? $"ghcr.io/k3d-io/k3d-proxy:{_versionText.TrimStart('v')}" : image,
                ["State"] = new JsonObject { ["Running"] = running, ["Status"] = running ? "running" : "created", ["Started"] = running ? DateTime.UtcNow.ToString("o") : "" },
            };
            if (n.Volumes.Count > 0) node["volumes"] = new JsonArray(n.Volumes.Select(x => (JsonNode)x!).ToArray());
            if (n.Env.Count > 0) node["env"] = new JsonArray(n.Env.Select(x => (JsonNode)x!).ToArray());
            if (n.Args.Count > 0) node["extraArgs"] = new JsonArray(n.Args.Select(x => (JsonNode)x!).ToArray());
            var labels = new JsonObject(n.Labels.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key, kv.Value)));
            node[v5 ? "runtimeLabels" : "Labels"] = labels;
            if (n.Role == "server")
            {
                node["serverOpts"] = new JsonObject
                {
                    ["isInitializingServer"] = nodes.Count(x => x.Role == "server") > 1 && n.Index == 0 ? true : null,
                    ["kubeAPI"] = new JsonObject { ["Port"] = "6443/tcp", ["Binding"] = new JsonObject { ["HostIp"] = apiHostIp, ["HostPort"] = apiPort }, ["host"] = apiHostIp },
                };
            }
            if (n.Role == "loadbalancer")
            {
                node["portMappings"] = new JsonObject { ["6443/tcp"] = new JsonArray(new JsonObject { ["HostIp"] = apiHostIp, ["HostPort"] = apiPort }) };
            }
            nodeArray.Add(node);
        }
        var servers = nodes.Where(n => n.Role == "server").ToList();
        var agents = nodes.Where(n => n.Role == "agent").ToList();
        var cluster = new JsonObject
        {
            ["name"] = name,
            ["network"] = new JsonObject { ["name"] = network, ["id"] = "", ["isExternal"] = external ? true : null, ["Members"] = null },
            ["clusterToken"] = token,
            ["nodes"] = nodeArray,
            ["InitNode"] = null,
            ["imageVolume"] = $"k3d-{name}-images",
            ["serversRunning"] = running ? servers.Count : 0,
            ["serversCount"] = servers.Count,
            ["agentsRunning"] = running ? agents.Count : 0,
            ["agentsCount"] = agents.Count,
            ["hasLoadbalancer"] = nodes.Any(n => n.Role == "loadbalancer") ? true : null,
            ["fake:kubeconfigMerged"] = kubeconfig,
        };
        File.WriteAllText(ClusterFile(state, name), cluster.ToJsonString());
    }

    private static List<JsonObject> LoadClusters(string state) =>
        Directory.GetFiles(state, "*.json").OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject()).ToList();

    private static JsonObject? LoadCluster(string state, string name) =>
        File.Exists(ClusterFile(state, name)) ? JsonNode.Parse(File.ReadAllText(ClusterFile(state, name)))!.AsObject() : null;

    private static int ClusterList(string[] args)
    {
        const string usage = "k3d cluster list [NAME [NAME...]] [flags]";
        var flags = new List<Flag> { new("no-headers", null, Kind.Bool), new("token", null, Kind.Bool) };
        if (AtLeast(3, 4)) flags.Add(new("output", "o", Kind.String));
        var p = Parse(usage, flags, args);
        var state = StateDir();
        var clusters = new List<JsonObject>();
        if (p.Args.Count == 0) clusters = LoadClusters(state);
        else foreach (var n in p.Args) clusters.Add(LoadCluster(state, n) ?? throw new Fatal("No nodes found for given cluster"));
        var output = (p.One("output") ?? "").ToLowerInvariant();
        if (output == "json")
        {
            var array = new JsonArray();
            foreach (var c in clusters)
            {
                var copy = c.DeepClone().AsObject();
                copy.Remove("fake:kubeconfigMerged");
                copy.Remove("InitNode");
                if (!p.Bool("token", false)) copy.Remove("clusterToken");
                foreach (var node in copy["nodes"]!.AsArray())
                {
                    // k3d never prints the token label's value in listings it did not ask for; keep the real shape otherwise.
                    node!.AsObject()[AtLeast(5) ? "runtimeLabels" : "Labels"]?.AsObject().Remove("k3d.cluster.token");
                }
                array.Add(copy);
            }
            Console.WriteLine(array.ToJsonString());
            return 0;
        }
        if (!p.Bool("no-headers", false)) Console.WriteLine("NAME          SERVERS   AGENTS   LOADBALANCER");
        foreach (var c in clusters)
        {
            Console.WriteLine($"{c["name"],-13} {c["serversRunning"]}/{c["serversCount"],-7} {c["agentsRunning"]}/{c["agentsCount"],-6} {(c["hasLoadbalancer"]?.GetValue<bool>() ?? false ? "true" : "false")}");
        }
        return 0;
    }

    private static int ClusterDelete(string[] args)
    {
        var p = Parse("k3d cluster delete [NAME [NAME ...] | --all] [flags]", [new("all", "a", Kind.Bool), new("config", "c", Kind.String)], args);
        var state = StateDir();
        var names = p.Bool("all", false) ? LoadClusters(state).Select(c => c["name"]!.GetValue<string>()).ToList()
            : p.Args.Count > 0 ? p.Args : ["k3s-default"];
        var found = 0;
        foreach (var name in names)
        {
            var c = LoadCluster(state, name);
            if (c is null) { Info($"No nodes found for cluster '{name}', nothing to delete."); continue; }
            found++;
            Info($"Deleting cluster '{name}'");
            if (c["network"]?["isExternal"]?.GetValue<bool>() != true) Info($"Deleting cluster network 'k3d-{name}'");
            Info("Deleting 1 attached volumes...");
            File.Delete(ClusterFile(state, name));
            Info("Removing cluster details from default kubeconfig...");
            WriteDefaultKubeconfig(state);
            Info("Removing standalone kubeconfig file (if there is one)...");
            Info($"Successfully deleted cluster {name}!");
        }
        if (found == 0 && names.Count == 0) Info("No clusters found");
        return 0;
    }

    private static string KubeconfigYaml(JsonObject c)
    {
        var name = c["name"]!.GetValue<string>();
        var api = c["nodes"]!.AsArray().First(n => n!["role"]!.GetValue<string>() == "server")!["serverOpts"]!["kubeAPI"]!;
        var host = api["host"]!.GetValue<string>();
        var port = api["Binding"]!["HostPort"]!.GetValue<string>();
        var ca = Convert.ToBase64String(Encoding.ASCII.GetBytes($"-----BEGIN CERTIFICATE-----\nfake-k3d CA for {name}\n-----END CERTIFICATE-----\n"));
        return $"""
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: {ca}
                server: https://{host}:{port}
              name: k3d-{name}
            contexts:
            - context:
                cluster: k3d-{name}
                user: admin@k3d-{name}
              name: k3d-{name}
            current-context: k3d-{name}
            kind: Config
            preferences: {"{}"}
            users:
            - name: admin@k3d-{name}
              user:
                client-certificate-data: {ca}
                client-key-data: {ca}
            """;
    }

    private static int KubeconfigGet(string[] args)
    {
        var p = Parse("k3d kubeconfig get [CLUSTER [CLUSTER [...]] | --all] [flags]", [new("all", "a", Kind.Bool)], args);
        if (p.Args.Count == 0 && !p.Bool("all", false))
            Usage("k3d kubeconfig get [CLUSTER [CLUSTER [...]] | --all] [flags]", "need to specify one or more cluster names *or* set `--all` flag");
        var state = StateDir();
        var clusters = p.Bool("all", false) ? LoadClusters(state) : p.Args.Select(n => LoadCluster(state, n) ?? throw new Fatal("No nodes found for given cluster")).ToList();
        foreach (var c in clusters)
        {
            Console.WriteLine("---");
            Console.WriteLine(KubeconfigYaml(c));
        }
        return 0;
    }

    private static int KubeconfigMerge(string[] args, string verb)
    {
        var p = Parse($"k3d kubeconfig {verb} [CLUSTER [CLUSTER [...]] | --all] [flags]",
            [new("all", "a", Kind.Bool), new("output", "o", Kind.String), new("kubeconfig-merge-default", "d", Kind.Bool),
             new("update", "u", Kind.Bool), new("kubeconfig-switch-context", "s", Kind.Bool), new("overwrite", null, Kind.Bool)], args);
        var state = StateDir();
        var home = Environment.GetEnvironmentVariable("HOME") ?? Path.GetTempPath();
        var outputs = new List<string>();
        foreach (var n in p.Args)
        {
            var c = LoadCluster(state, n) ?? throw new Fatal("No nodes found for given cluster");
            var path = p.One("output") ?? Path.Combine(home, ".config", "k3d", $"kubeconfig-{n}.yaml");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, KubeconfigYaml(c) + "\n");
            outputs.Add(path);
        }
        Console.WriteLine(string.Join(":", outputs));
        return 0;
    }

    /// <summary>The default kubeconfig ($KUBECONFIG only): one context per fake cluster that merged into it.</summary>
    private static void WriteDefaultKubeconfig(string state)
    {
        var path = Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator)[0];
        if (string.IsNullOrEmpty(path)) return;
        var merged = LoadClusters(state).Where(c => c["fake:kubeconfigMerged"]?.GetValue<bool>() == true).ToList();
        var sb = new StringBuilder();
        foreach (var c in merged) sb.AppendLine("# fake k3d context").AppendLine(KubeconfigYaml(c)).AppendLine("---");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, sb.ToString());
    }
}
