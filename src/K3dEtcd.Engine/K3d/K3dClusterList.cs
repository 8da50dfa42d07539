using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.K3d;

/// <summary>One cluster from `k3d cluster list -o json`, before enrichment.</summary>
public sealed record K3dClusterInfo
{
    public string Name { get; init; } = "";
    public string Network { get; init; } = "";
    public int ServersCount { get; init; }
    public int ServersRunning { get; init; }
    public int AgentsCount { get; init; }
    public int AgentsRunning { get; init; }
    public string? ApiHost { get; init; }
    public string? ApiPort { get; init; }
    public string? DatastoreLabel { get; init; }
    public string? EtcdClusterLabel { get; init; }
    public K3dNode[] Nodes { get; init; } = [];
    /// <summary>--tls-san values given to the servers (from their extraArgs).</summary>
    public string[] TlsSans { get; init; } = [];

    public string? ApiEndpoint => ApiPort is null ? null : $"https://{(string.IsNullOrEmpty(ApiHost) ? "0.0.0.0" : ApiHost)}:{ApiPort}";
}

/// <summary>
/// Parses `k3d cluster list -o json`. k3d mixes JSON-tagged keys (name, nodes, serversCount) with
/// Go field names (State.Running, Binding.HostPort, v4's Labels), so every lookup ignores case.
/// </summary>
public static class K3dClusterList
{
    public static IReadOnlyList<K3dClusterInfo> Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "[]" : json);
        }
        catch (JsonException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.K3dOutputUnreadable, $"`k3d cluster list -o json` printed something that is not JSON: {json[..Math.Min(200, json.Length)]}", json, ex);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind == JsonValueKind.Null) return [];
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new K3dEtcdException(ErrorCatalog.K3dOutputUnreadable, "`k3d cluster list -o json` did not print a JSON array.", json);
            }
            return doc.RootElement.EnumerateArray().Select(ParseCluster).ToList();
        }
    }

    private static K3dClusterInfo ParseCluster(JsonElement c)
    {
        var nodes = (Prop(c, "nodes") is { ValueKind: JsonValueKind.Array } arr ? arr.EnumerateArray().ToList() : []);
        var parsedNodes = nodes.Select(n => new K3dNode
        {
            Name = Str(Prop(n, "name")) ?? "",
            Role = Str(Prop(n, "role")) ?? "",
            Running = Prop(n, "State") is { } s && Prop(s, "Running") is { ValueKind: JsonValueKind.True },
            Status = Prop(n, "State") is { } st ? Str(Prop(st, "Status")) ?? "" : "",
            Image = Str(Prop(n, "image")) ?? "",
        }).ToArray();

        string? apiHost = null, apiPort = null, datastore = null, etcdCluster = null;
        var sans = new List<string>();
        foreach (var n in nodes.Where(n => Str(Prop(n, "role")) == "server"))
        {
            if (apiPort is null && Prop(n, "serverOpts") is { } so && Prop(so, "kubeAPI") is { ValueKind: JsonValueKind.Object } api)
            {
                var binding = Prop(api, "Binding");
                apiPort = binding is { } b ? Str(Prop(b, "HostPort")) : null;
                apiHost = Str(Prop(api, "host")) ?? (binding is { } b2 ? Str(Prop(b2, "HostIp")) : null);
            }
            if (Prop(n, "extraArgs") is { ValueKind: JsonValueKind.Array } extra)
            {
                sans.AddRange(K3dSans.FromArguments(extra.EnumerateArray().Select(a => Str(a) ?? "").ToList()));
            }
            var labels = Prop(n, "runtimeLabels") ?? Prop(n, "labels");
            if (labels is { ValueKind: JsonValueKind.Object } l)
            {
                datastore ??= Str(Prop(l, K3dArguments.DatastoreLabel));
                etcdCluster ??= Str(Prop(l, K3dArguments.EtcdClusterLabel));
            }
        }
        if (apiPort is null)
        {
            var lb = nodes.FirstOrDefault(n => Str(Prop(n, "role")) == "loadbalancer");
            if (lb.ValueKind == JsonValueKind.Object && Prop(lb, "portMappings") is { ValueKind: JsonValueKind.Object } pm
                && Prop(pm, "6443/tcp") is { ValueKind: JsonValueKind.Array } bindings && bindings.GetArrayLength() > 0)
            {
                apiPort = Str(Prop(bindings[0], "HostPort"));
                apiHost ??= Str(Prop(bindings[0], "HostIp"));
            }
        }

        var servers = parsedNodes.Where(n => n.Role == "server").ToList();
        var agents = parsedNodes.Where(n => n.Role == "agent").ToList();
        return new K3dClusterInfo
        {
            Name = Str(Prop(c, "name")) ?? "",
            Network = Prop(c, "network") is { ValueKind: JsonValueKind.Object } net ? Str(Prop(net, "name")) ?? "" : "",
            ServersCount = Int(Prop(c, "serversCount")) ?? servers.Count,
            ServersRunning = Int(Prop(c, "serversRunning")) ?? servers.Count(s => s.Running),
            AgentsCount = Int(Prop(c, "agentsCount")) ?? agents.Count,
            AgentsRunning = Int(Prop(c, "agentsRunning")) ?? agents.Count(a => a.Running),
            ApiHost = apiHost,
            ApiPort = apiPort,
            DatastoreLabel = datastore,
            EtcdClusterLabel = etcdCluster,
            Nodes = parsedNodes,
            TlsSans = sans.Distinct(StringComparer.OrdinalIgnoreCase).ToArray(),
        };
    }

    private static JsonElement? Prop(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        if (e.TryGetProperty(name, out var exact)) return exact;
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        }
        return null;
    }

    private static string? Str(JsonElement? e) => e is { ValueKind: JsonValueKind.String } s ? s.GetString() : e is { ValueKind: JsonValueKind.Number } n ? n.GetRawText() : null;

    private static int? Int(JsonElement? e) => e is { ValueKind: JsonValueKind.Number } n && n.TryGetInt32(out var i) ? i : null;
}
