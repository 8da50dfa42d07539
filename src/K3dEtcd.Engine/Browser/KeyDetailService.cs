using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Data;

namespace K3dEtcd.Browser;

/// <summary>Everything the page shows about one key at one revision.</summary>
public sealed record KeyDetail
{
    public string Key { get; init; } = "";
    public long CreateRevision { get; init; }
    public long ModRevision { get; init; }
    public long Version { get; init; }
    /// <summary>Lease ID in hex as etcdctl prints it; null without a lease.</summary>
    public string? Lease { get; init; }
    public long Size { get; init; }
    public bool IsBinary { get; init; }
    /// <summary>The revision the read was made at.</summary>
    public long Revision { get; init; }
    /// <summary>The value as text (UTF-8 without control bytes); null when binary.</summary>
    public string? Text { get; init; }
    /// <summary>The value indented, when it is JSON.</summary>
    public string? Json { get; init; }
    /// <summary>For a Kubernetes protobuf value: the envelope and a dump of the object's fields.</summary>
    public KubernetesView? Kubernetes { get; init; }
    /// <summary>Hex dump (offset, bytes, printable characters) of binary values, up to <see cref="KeyDetailService.MaxHexBytes"/>.</summary>
    public string? Hex { get; init; }
    /// <summary>True when the text or hex was cut at the display limit.</summary>
    public bool Truncated { get; init; }
}

public sealed record KubernetesView(string? Resource, string? Namespace, string? Name, string? Kind, string? ApiVersion, string Encoding, string? Fields);

/// <summary>One earlier state of a key.</summary>
public sealed record KeyRevision(long ModRevision, long CreateRevision, long Version, long Size);

public sealed record KeyHistory(string Key, IReadOnlyList<KeyRevision> Revisions, bool Compacted, bool More);

/// <summary>
/// Reads one key for the page and explains its value: text, indented JSON, the Kubernetes
/// protobuf envelope with a readable dump of the object's fields (no schema needed: the wire
/// format is walked and each field shown as a number, string or nested message), or hex.
/// </summary>
public sealed class KeyDetailService(EtcdConnection connection)
{
    public const int MaxTextChars = 1024 * 1024;
    public const int MaxHexBytes = 64 * 1024;
    private const int MaxHistory = 50;
    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    /// <summary>The key at <paramref name="revision"/> (0: now); null when it does not exist there.</summary>
    public async Task<KeyDetail?> GetAsync(string key, long revision, CancellationToken ct)
    {
        EtcdKeyService.ValidateKey(key);
        var response = await RangeAsync(key, revision, ct).ConfigureAwait(false);
        if (response.Kvs.Count == 0) return null;
        var kv = response.Kvs[0];
        var value = kv.Value.Span;
        var text = EtcdKeyService.TextOf(value, out var binary);
        var detail = new KeyDetail
        {
            Key = key,
            CreateRevision = kv.CreateRevision,
            ModRevision = kv.ModRevision,
            Version = kv.Version,
            Lease = kv.Lease == 0 ? null : kv.Lease.ToString("x"),
            Size = value.Length,
            IsBinary = binary,
            Revision = revision > 0 ? revision : response.Header.Revision,
        };
        if (!binary)
        {
            var truncated = text.Length > MaxTextChars;
            detail = detail with { Text = truncated ? text[..MaxTextChars] : text, Truncated = truncated, Json = truncated ? null : IndentJson(text) };
        }
        else
        {
            detail = detail with { Hex = HexDump(value, MaxHexBytes), Truncated = value.Length > MaxHexBytes };
        }
        if (KubernetesValueDecoder.IsRegistryKey(key) || value.StartsWith(Magic))
        {
            var info = KubernetesValueDecoder.Decode(key, value);
            if (value.StartsWith(Magic))
            {
                detail = detail with { Kubernetes = new KubernetesView(info.Resource, info.Namespace, info.Name, info.Kind, info.ApiVersion, "protobuf", DumpEnvelope(value[Magic.Length..])) };
            }
            else if (info.Kind is not null || info.Name is not null)
            {
                detail = detail with { Kubernetes = new KubernetesView(info.Resource, info.Namespace, info.Name, info.Kind, info.ApiVersion, detail.Json is null ? "other" : "json", null) };
            }
        }
        return detail;
    }

    /// <summary>
    /// The key's earlier values while etcd still has them: each read at the revision before the
    /// last one found gives the state before that change, back to the key's creation or the
    /// compaction point.
    /// </summary>
    public async Task<KeyHistory> GetHistoryAsync(string key, CancellationToken ct)
    {
        EtcdKeyService.ValidateKey(key);
        var revisions = new List<KeyRevision>();
        var current = await RangeAsync(key, 0, ct).ConfigureAwait(false);
        if (current.Kvs.Count == 0) return new KeyHistory(key, revisions, false, false);
        var kv = current.Kvs[0];
        revisions.Add(new KeyRevision(kv.ModRevision, kv.CreateRevision, kv.Version, kv.Value.Length));
        var compacted = false;
        while (revisions.Count < MaxHistory && kv.ModRevision > 1 && kv.Version > 1)
        {
            RangeResponse earlier;
            try
            {
                earlier = await RangeAsync(key, kv.ModRevision - 1, ct).ConfigureAwait(false);
            }
            catch (K3dEtcdException ex) when (ex.InnerException is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.OutOfRange })
            {
                // "required revision has been compacted": nothing older is left.
                compacted = true;
                break;
            }
            if (earlier.Kvs.Count == 0) break;
            kv = earlier.Kvs[0];
            revisions.Add(new KeyRevision(kv.ModRevision, kv.CreateRevision, kv.Version, kv.Value.Length));
        }
        return new KeyHistory(key, revisions, compacted, revisions.Count >= MaxHistory && kv.Version > 1);
    }

    private Task<RangeResponse> RangeAsync(string key, long revision, CancellationToken ct) =>
        connection.CallAsync("range", o => connection.Grpc.KVClient.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key), Revision = revision }, o), ct, key);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The text indented when it is a JSON object or array; null otherwise.</summary>
    public static string? IndentJson(string text)
    {
        var t = text.AsSpan().TrimStart();
        if (t.Length == 0 || (t[0] != '{' && t[0] != '[')) return null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            return JsonSerializer.Serialize(doc.RootElement, Indented);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Offset, 16 bytes in hex and their printable characters per line.</summary>
    public static string HexDump(ReadOnlySpan<byte> value, int max)
    {
        var n = Math.Min(value.Length, max);
        var sb = new StringBuilder(n * 4 + 16);
        for (var off = 0; off < n; off += 16)
        {
            sb.Append(off.ToString("x8")).Append("  ");
            for (var i = 0; i < 16; i++)
            {
                if (off + i < n) sb.Append(value[off + i].ToString("x2")).Append(' ');
                else sb.Append("   ");
                if (i == 7) sb.Append(' ');
            }
            sb.Append(' ');
            for (var i = 0; i < 16 && off + i < n; i++)
            {
                var b = value[off + i];
                sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    // Field names of the envelope (runtime.Unknown) and of ObjectMeta, which is field 1 of every
    // top-level Kubernetes object; other fields are shown by number (no schema is shipped).
    private static readonly Dictionary<int, string> EnvelopeNames = new() { [1] = "typeMeta", [2] = "raw", [3] = "contentEncoding", [4] = "contentType" };
    private static readonly Dictionary<int, string> TypeMetaNames = new() { [1] = "apiVersion", [2] = "kind" };
    private static readonly Dictionary<int, string> ObjectNames = new() { [1] = "metadata" };
    private static readonly Dictionary<int, string> ObjectMetaNames = new()
    {
        [1] = "name", [2] = "generateName", [3] = "namespace", [4] = "selfLink", [5] = "uid", [6] = "resourceVersion",
        [7] = "generation", [8] = "creationTimestamp", [9] = "deletionTimestamp", [10] = "deletionGracePeriodSeconds",
        [11] = "labels", [12] = "annotations", [13] = "ownerReferences", [14] = "finalizers", [17] = "managedFields",
    };

    /// <summary>A readable dump of a runtime.Unknown and the object inside it.</summary>
    public static string DumpEnvelope(ReadOnlySpan<byte> unknown)
    {
        var sb = new StringBuilder();
        var reader = new ProtobufReader(unknown);
        while (reader.Next())
        {
            var field = reader.FieldNumber;
            var name = EnvelopeNames.GetValueOrDefault(field);
            if (field == 1 && reader.WireType == 2 && reader.TryReadBytes(out var typeMeta))
            {
                sb.Append("1 typeMeta {\n");
                DumpMessage(typeMeta, sb, 1, TypeMetaNames, null, 0);
                sb.Append("}\n");
            }
            else if (field == 2 && reader.WireType == 2 && reader.TryReadBytes(out var raw))
            {
                sb.Append("2 raw (the object, ").Append(raw.Length).Append(" bytes) {\n");
                if (!DumpMessage(raw, sb, 1, ObjectNames, ObjectMetaNames, 0)) sb.Append("  (not a protobuf message)\n");
                sb.Append("}\n");
            }
            else if (!DumpField(ref reader, unknown, sb, 0, name, null, null, 0))
            {
                sb.Append("(malformed from here)\n");
                break;
            }
        }
        return sb.ToString();
    }

    private const int MaxDepth = 24;
    private const int MaxDumpChars = 512 * 1024;

    /// <summary>Appends the message's fields; false (and nothing appended) when the bytes are not a well-formed message.</summary>
    private static bool DumpMessage(ReadOnlySpan<byte> message, StringBuilder sb, int indent, Dictionary<int, string>? names, Dictionary<int, string>? firstFieldNames, int depth)
    {
        if (!IsMessage(message)) return false;
        var reader = new ProtobufReader(message);
        while (reader.Next())
        {
            if (sb.Length > MaxDumpChars)
            {
                sb.Append(' ', indent * 2).Append("... (cut)\n");
                return true;
            }
            var name = names?.GetValueOrDefault(reader.FieldNumber);
            var childNames = reader.FieldNumber == 1 ? firstFieldNames : null;
            if (!DumpField(ref reader, message, sb, indent, name, childNames, null, depth)) break;
        }
        return true;
    }

    private static bool DumpField(ref ProtobufReader reader, ReadOnlySpan<byte> data, StringBuilder sb, int indent, string? name, Dictionary<int, string>? childNames, Dictionary<int, string>? grandChildNames, int depth)
    {
        sb.Append(' ', indent * 2).Append(reader.FieldNumber);
        if (name is not null) sb.Append(' ').Append(name);
        switch (reader.WireType)
        {
            case 0:
                if (!reader.TryReadVarint(out var v)) return false;
                sb.Append(": ").Append(v).Append('\n');
                return true;
            case 1:
            case 5:
                var width = reader.WireType == 1 ? 8 : 4;
                var start = reader.Position;
                if (!reader.Skip()) return false;
                var raw = data.Slice(start, width);
                if (width == 8) sb.Append(": ").Append(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(raw)).Append(" (double ").Append(BitConverter.Int64BitsToDouble(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw))).Append(")\n");
                else sb.Append(": ").Append(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(raw)).Append(" (float ").Append(BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(raw))).Append(")\n");
                return true;
            case 2:
                if (!reader.TryReadBytes(out var bytes)) return false;
                // Printable text is a string; bytes with line breaks that parse as fields are a message
                // ("\n\nkubernetes" is field 1 holding "kubernetes"); other valid UTF-8 is a string.
                if (LooksLikeText(bytes, strict: true) || (!IsMessage(bytes) && LooksLikeText(bytes, strict: false)))
                {
                    sb.Append(": ").Append(JsonSerializer.Serialize(Encoding.UTF8.GetString(bytes), Indented)).Append('\n');
                }
                else if (depth < MaxDepth && IsMessage(bytes))
                {
                    sb.Append(" {\n");
                    DumpMessage(bytes, sb, indent + 1, childNames, grandChildNames, depth + 1);
                    sb.Append(' ', indent * 2).Append("}\n");
                }
                else
                {
                    sb.Append(": bytes[").Append(bytes.Length).Append("] ").Append(Convert.ToHexString(bytes[..Math.Min(bytes.Length, 32)]).ToLowerInvariant());
                    sb.Append(bytes.Length > 32 ? "...\n" : "\n");
                }
                return true;
            default:
                return false;
        }
    }

    /// <summary>Whether the bytes parse as protobuf fields to the last byte.</summary>
    private static bool IsMessage(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return false;
        var r = new ProtobufReader(bytes);
        while (r.Next())
        {
            if (!r.Skip()) return false;
        }
        return r.AtEnd;
    }

    /// <summary>Valid UTF-8 without control characters (a string field rather than a nested message).</summary>
    private static bool LooksLikeText(ReadOnlySpan<byte> bytes, bool strict)
    {
        if (bytes.IsEmpty) return true;
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) return false;
        foreach (var b in bytes)
        {
            if (b < 0x20 && (strict || b is not (0x09 or 0x0A or 0x0D))) return false;
            if (b == 0x7F) return false;
        }
        return true;
    }
}
