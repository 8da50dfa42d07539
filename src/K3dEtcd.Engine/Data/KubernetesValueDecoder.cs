using System.Text;
using System.Text.Json;

namespace K3dEtcd.Data;

/// <summary>What a /registry/ key and value say about the Kubernetes object stored there.</summary>
public readonly record struct KubernetesObjectInfo(string? Resource, string? Namespace, string? Name, string? Kind, string? ApiVersion);

/// <summary>
/// Reads what kube-apiserver (k3s) writes under /registry/: the path gives resource, namespace
/// and name; the value is JSON or protobuf behind the 4-byte magic "k8s\0" wrapping a
/// runtime.Unknown { TypeMeta typeMeta = 1 { apiVersion = 1; kind = 2 }; bytes raw = 2; ... }.
/// </summary>
public static class KubernetesValueDecoder
{
    public const string RegistryPrefix = "/registry/";
    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    public static bool IsRegistryKey(string key) => key.StartsWith(RegistryPrefix, StringComparison.Ordinal);

    public static KubernetesObjectInfo Decode(string key, ReadOnlySpan<byte> value)
    {
        var (resource, ns, name) = ParsePath(key);
        var (kind, apiVersion) = DecodeTypeMeta(value);
        return new KubernetesObjectInfo(resource, ns, name, kind, apiVersion);
    }

    /// <summary>
    /// /registry/pods/ns/name → (pods, ns, name); /registry/namespaces/name → (namespaces, null, name);
    /// an API group segment (one with a dot) qualifies the resource: /registry/apiregistration.k8s.io/apiservices/name.
    /// </summary>
    public static (string? Resource, string? Namespace, string? Name) ParsePath(string key)
    {
        if (!IsRegistryKey(key)) return (null, null, null);
        var parts = key[RegistryPrefix.Length..].Split('/');
        if (parts.Any(p => p.Length == 0)) return (parts.Length > 0 && parts[0].Length > 0 ? parts[0] : null, null, null);
        if (parts.Length >= 2 && parts[0].Contains('.'))
        {
            // Resource of a named API group: keep kubectl's resource.group spelling.
            var rest = parts[1..];
            var qualified = $"{rest[0]}.{parts[0]}";
            return rest.Length switch
            {
                1 => (qualified, null, null),
                2 => (qualified, null, rest[1]),
                3 => (qualified, rest[1], rest[2]),
                _ => (qualified, rest[^2], rest[^1]),
            };
        }
        return parts.Length switch
        {
            1 => (parts[0], null, null),
            2 => (parts[0], null, parts[1]),
            3 => (parts[0], parts[1], parts[2]),
            // e.g. /registry/services/specs/ns/name: the sub-collection belongs to the resource.
            _ => ($"{parts[0]}/{string.Join('/', parts[1..^2])}", parts[^2], parts[^1]),
        };
    }

    public static (string? Kind, string? ApiVersion) DecodeTypeMeta(ReadOnlySpan<byte> value)
    {
        if (value.StartsWith(Magic)) return DecodeProtobuf(value[Magic.Length..]);
        var trimmed = value.TrimStart(" \t\r\n"u8);
        if (trimmed.Length > 0 && trimmed[0] == (byte)'{') return DecodeJson(value);
        return (null, null);
    }

    private static (string? Kind, string? ApiVersion) DecodeProtobuf(ReadOnlySpan<byte> unknown)
    {
        var reader = new ProtobufReader(unknown);
        while (reader.Next())
        {
            if (reader.FieldNumber == 1 && reader.WireType == 2)
            {
                if (!reader.TryReadBytes(out var typeMeta)) break;
                string? apiVersion = null, kind = null;
                var inner = new ProtobufReader(typeMeta);
                while (inner.Next())
                {
                    if (inner.WireType == 2 && inner.FieldNumber is 1 or 2)
                    {
                        var field = inner.FieldNumber;
                        if (!inner.TryReadBytes(out var text)) break;
                        var s = Encoding.UTF8.GetString(text);
                        if (field == 1) apiVersion = s; else kind = s;
                    }
                    else if (!inner.Skip()) break;
                }
                return (NullIfEmpty(kind), NullIfEmpty(apiVersion));
            }
            if (!reader.Skip()) break;
        }
        return (null, null);
    }

    private static (string? Kind, string? ApiVersion) DecodeJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = true });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (null, null);
            string? kind = null, apiVersion = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKind = reader.ValueTextEquals("kind"u8);
                var isApi = reader.ValueTextEquals("apiVersion"u8);
                if (!reader.Read()) break;
                if ((isKind || isApi) && reader.TokenType == JsonTokenType.String)
                {
                    if (isKind) kind = reader.GetString(); else apiVersion = reader.GetString();
                    if (kind is not null && apiVersion is not null) break;
                }
                else
                {
                    reader.Skip();
                }
            }
            return (NullIfEmpty(kind), NullIfEmpty(apiVersion));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
