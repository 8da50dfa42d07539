using System.Text.Json;
using K3dEtcd.Docker;

namespace K3dEtcd.Clusters;

/// <summary>One member as a record names it: its container, its index and the host port its client URL is published on.</summary>
public sealed record RecordedMember(string Name, int Index, int? HostPort);

/// <summary>
/// What it takes to build a cluster again in place when its members are gone: the members (names,
/// indexes, host ports) and the options New-EtcdCluster was given. It is a label on the cluster's
/// network, every data volume and every member container, so a restore after a total loss finds it
/// on whatever is left. Docker labels cannot change, so every new record (create, Add-EtcdMember,
/// a restore in place) carries the time it was written, and the newest one left wins.
/// </summary>
public sealed record ClusterRecord
{
    public const string Label = Labels.Prefix + "record";

    public required IReadOnlyList<RecordedMember> Members { get; init; }
    public required string Image { get; init; }
    public string? Version { get; init; }
    public string HostAddress { get; init; } = "127.0.0.1";
    public int? ClientPort { get; init; }
    public string ClusterToken { get; init; } = EtcdClusterSpec.DefaultClusterToken;
    public bool EnableV2 { get; init; }
    public bool Tls { get; init; }
    public string? TlsDirectory { get; init; }
    /// <summary>The -Network the cluster joined (null: its own network, k3detcd-NAME).</summary>
    public string? Network { get; init; }
    public long? QuotaBackendBytes { get; init; }
    public string? AutoCompactionRetention { get; init; }
    public string? AutoCompactionMode { get; init; }
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
    public DateTimeOffset Written { get; init; }

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static ClusterRecord Of(EtcdClusterSpec spec, string? version, IEnumerable<RecordedMember> members) => new()
    {
        Members = [.. members.OrderBy(m => m.Index)],
        Image = spec.Image,
        Version = version,
        HostAddress = spec.HostAddress,
        ClientPort = spec.ClientPort,
        ClusterToken = spec.ClusterToken,
        EnableV2 = spec.EnableV2,
        Tls = spec.Tls,
        TlsDirectory = spec.Tls ? spec.TlsDirectory : null,
        Network = string.IsNullOrEmpty(spec.Network) ? null : spec.Network,
        QuotaBackendBytes = spec.QuotaBackendBytes,
        AutoCompactionRetention = spec.AutoCompactionRetention,
        AutoCompactionMode = spec.AutoCompactionMode,
        ExtraArguments = spec.ExtraArguments,
        Written = DateTimeOffset.UtcNow,
    };

    public string Serialize() => JsonSerializer.Serialize(this, Json);

    /// <summary>The record a label holds; null when there is none or it cannot be read (a later module may write more).</summary>
    public static ClusterRecord? Parse(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try { return JsonSerializer.Deserialize<ClusterRecord>(json, Json); }
        catch (JsonException) { return null; }
    }

    /// <summary>The newest record among the labels of what is left of a cluster.</summary>
    public static ClusterRecord? Newest(IEnumerable<IReadOnlyDictionary<string, string>?> labelSets) =>
        labelSets.Select(l => Parse(ClusterModel.Label(l, Label))).OfType<ClusterRecord>().MaxBy(r => r.Written);

    /// <summary>The spec that builds these members again under <paramref name="name"/>.</summary>
    public EtcdClusterSpec ToSpec(string name) => new()
    {
        Name = name,
        Size = Members.Count,
        Image = Image,
        Network = Network,
        HostAddress = HostAddress,
        ClientPort = ClientPort,
        ClusterToken = ClusterToken,
        EnableV2 = EnableV2,
        Tls = Tls,
        // The record holds <root>/<name>; the spec rebuilds that path from its root.
        TlsRoot = Tls && TlsDirectory is { Length: > 0 } dir ? Path.GetDirectoryName(dir.TrimEnd('/', '\\')) : null,
        QuotaBackendBytes = QuotaBackendBytes,
        AutoCompactionRetention = AutoCompactionRetention,
        AutoCompactionMode = AutoCompactionMode,
        ExtraArguments = ExtraArguments,
        PullPolicy = ImagePullPolicy.Never,
        MemberIndexes = [.. Members.Select(m => m.Index)],
        HostPorts = Members.Where(m => m.HostPort is not null).ToDictionary(m => m.Index, m => m.HostPort!.Value),
    };
}
