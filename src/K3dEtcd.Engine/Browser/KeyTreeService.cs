using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Etcd;

namespace K3dEtcd.Browser;

/// <summary>One child of a folder in the browser's tree: a folder (a prefix ending in '/') or a key.</summary>
public sealed record KeyTreeNode
{
    /// <summary>The segment shown in the tree ("pods/" for a folder, "web-1" for a key).</summary>
    public string Name { get; init; } = "";
    /// <summary>The full key, or the full prefix of a folder.</summary>
    public string Key { get; init; } = "";
    public bool IsFolder { get; init; }
    /// <summary>Keys under a folder (1 for a key).</summary>
    public long Count { get; init; }
    /// <summary>Under /registry/: "group", "resource", "namespace" or "object".</summary>
    public string? Role { get; init; }
    public string? Resource { get; init; }
    public string? Namespace { get; init; }
    public string? Kind { get; init; }
    public string? ApiVersion { get; init; }
    public long? ModRevision { get; init; }
}

/// <summary>A page of a folder's children; <see cref="Next"/> continues it.</summary>
public sealed record KeyTreePage(string Prefix, IReadOnlyList<KeyTreeNode> Children, string? Next, long Revision);

/// <summary>
/// The tree of keys by '/' segments, read lazily: a folder's children come from keys-only range
/// reads that jump over each sub-folder (counted with a count-only read), so listing a folder costs
/// about two requests per child shown and never ships the keys below it. At 100k keys the page
/// shows folders with counts at once instead of downloading the keyspace.
/// </summary>
public sealed class KeyTreeService(EtcdConnection connection)
{
    /// <summary>Keys asked per range read while walking a folder.</summary>
    private const int ScanPage = 256;
    public const int MaxChildren = 2000;

    private readonly EtcdKeyService _keys = new(connection);

    /// <summary>Children of <paramref name="prefix"/> ("" is the root), from <paramref name="after"/> (a Next cursor) on.</summary>
    /// <remarks>
    /// Folder counts cost no extra request: every range answer carries the number of keys from its
    /// start to the end of the folder being listed, so a sub-folder's count is the difference
    /// between that number where the folder starts and where the read after it starts. All reads
    /// are at the first read's revision, so the numbers agree.
    /// </remarks>
    public async Task<KeyTreePage> ListAsync(string prefix, string? after, int limit, CancellationToken ct)
    {
        limit = Math.Clamp(limit, 1, MaxChildren);
        var prefixBytes = Encoding.UTF8.GetBytes(prefix);
        var end = prefixBytes.Length == 0 ? new byte[] { 0 } : EtcdKeyService.PrefixEnd(prefixBytes);
        var toTheEnd = end is [0];
        var from = string.IsNullOrEmpty(after) ? (prefixBytes.Length == 0 ? new byte[] { 0 } : prefixBytes) : Encoding.UTF8.GetBytes(after);
        var children = new List<KeyTreeNode>();
        long revision = 0;
        string? next = null;
        // A folder that runs past the page just read: its index and the keys from its start to the end.
        (int Index, long Remaining)? open = null;
        while (true)
        {
            var page = await RangeAsync(from, end, ScanPage, keysOnly: true, revision, ct).ConfigureAwait(false);
            if (revision == 0) revision = page.Header.Revision;
            var remaining = page.Count; // keys in [from, end)
            if (open is { } o)
            {
                children[o.Index] = children[o.Index] with { Count = o.Remaining - remaining };
                open = null;
            }
            if (page.Kvs.Count == 0) break;
            string? folder = null;
            int folderIndex = -1, folderStart = 0;
            var stop = false;
            for (var j = 0; j < page.Kvs.Count; j++)
            {
                var key = page.Kvs[j].Key.ToStringUtf8();
                if (folder is not null)
                {
                    if (key.StartsWith(folder, StringComparison.Ordinal)) continue;
                    children[folderIndex] = children[folderIndex] with { Count = j - folderStart };
                    folder = null;
                }
                if (children.Count >= limit)
                {
                    next = key;
                    stop = true;
                    break;
                }
                var rest = key[prefix.Length..];
                var slash = rest.IndexOf('/');
                if (slash < 0)
                {
                    children.Add(Leaf(rest, key, page.Kvs[j].ModRevision));
                    continue;
                }
                folder = key[..(prefix.Length + slash + 1)];
                folderIndex = children.Count;
                folderStart = j;
                children.Add(Folder(folder, rest[..(slash + 1)], 0, key));
            }
            if (stop) break;
            if (folder is not null)
            {
                if (!page.More)
                {
                    children[folderIndex] = children[folderIndex] with { Count = page.Kvs.Count - folderStart };
                    break;
                }
                // The page ended inside a folder: continue after all of it.
                open = (folderIndex, remaining - folderStart);
                from = EtcdKeyService.PrefixEnd(Encoding.UTF8.GetBytes(folder));
                if (from is [0] || (!toTheEnd && from.AsSpan().SequenceCompareTo(end) >= 0))
                {
                    children[folderIndex] = children[folderIndex] with { Count = open.Value.Remaining };
                    break;
                }
                continue;
            }
            if (!page.More) break;
            var last = page.Kvs[^1].Key.Span;
            from = new byte[last.Length + 1];
            last.CopyTo(from);
        }
        if (KubernetesValueDecoder.IsRegistryKey(prefix)) children = await AddKubernetesTypesAsync(children, revision, ct).ConfigureAwait(false);
        return new KeyTreePage(prefix, children, next, revision);
    }

    /// <summary>Keys whose name contains <paramref name="text"/> (a keys-only scan of the keyspace, or of a prefix when the text starts with '/').</summary>
    public async Task<(IReadOnlyList<KeyTreeNode> Matches, bool Truncated, long Scanned)> SearchAsync(string text, int limit, CancellationToken ct)
    {
        limit = Math.Clamp(limit, 1, MaxChildren);
        var matches = new List<KeyTreeNode>();
        long scanned = 0;
        var asPrefix = text.StartsWith('/');
        var query = asPrefix ? new EtcdKeyQuery { Key = text, Prefix = true, KeysOnly = true } : new EtcdKeyQuery { KeysOnly = true };
        await foreach (var kv in _keys.GetAsync(query, ct).ConfigureAwait(false))
        {
            scanned++;
            if (!asPrefix && !kv.Key.Contains(text, StringComparison.OrdinalIgnoreCase)) continue;
            if (matches.Count >= limit) return (matches, true, scanned);
            matches.Add(Leaf(kv.Key, kv.Key, kv.ModRevision) with { Name = kv.Key });
        }
        return (matches, false, scanned);
    }

    private Task<RangeResponse> RangeAsync(byte[] from, byte[] end, long limit, bool keysOnly, long revision, CancellationToken ct) =>
        connection.CallAsync("range", o => connection.Grpc.KVClient.RangeAsync(new RangeRequest
        {
            Key = ByteString.CopyFrom(from),
            RangeEnd = ByteString.CopyFrom(end),
            Limit = limit,
            KeysOnly = keysOnly,
            Revision = revision,
            // Within one listing every read is at the first read's revision: no leader round trip needed.
            Serializable = revision > 0,
        }, o), ct, Encoding.UTF8.GetString(from));

    private static KeyTreeNode Leaf(string name, string key, long modRevision)
    {
        var node = new KeyTreeNode { Name = name, Key = key, Count = 1, ModRevision = modRevision };
        if (!KubernetesValueDecoder.IsRegistryKey(key)) return node;
        var (resource, ns, objectName) = KubernetesValueDecoder.ParsePath(key);
        return objectName is null ? node : node with { Role = "object", Resource = resource, Namespace = ns };
    }

    /// <summary>A folder; under /registry/ its role comes from the path of the first key inside it.</summary>
    private static KeyTreeNode Folder(string folder, string name, long count, string firstKey)
    {
        var node = new KeyTreeNode { Name = name, Key = folder, IsFolder = true, Count = count };
        if (!KubernetesValueDecoder.IsRegistryKey(folder)) return node;
        var (resource, ns, objectName) = KubernetesValueDecoder.ParsePath(firstKey);
        if (objectName is null) return node;
        var objectsFolder = firstKey[..^objectName.Length];
        if (folder == objectsFolder) return node with { Role = ns is null ? "resource" : "namespace", Resource = resource, Namespace = ns };
        if (ns is not null && folder.Length == objectsFolder.Length - ns.Length - 1) return node with { Role = "resource", Resource = resource };
        var depth = folder[KubernetesValueDecoder.RegistryPrefix.Length..].Count(c => c == '/');
        if (depth == 1 && name.Contains('.')) return node with { Role = "group" };
        return node;
    }

    /// <summary>Kind and ApiVersion of the objects listed (values read in one range over them).</summary>
    private async Task<List<KeyTreeNode>> AddKubernetesTypesAsync(List<KeyTreeNode> children, long revision, CancellationToken ct)
    {
        var objects = children.Where(c => !c.IsFolder && c.Role == "object").ToList();
        if (objects.Count == 0) return children;
        var first = Encoding.UTF8.GetBytes(objects[0].Key);
        var lastKey = Encoding.UTF8.GetBytes(objects[^1].Key);
        var end = new byte[lastKey.Length + 1];
        lastKey.CopyTo(end, 0);
        var types = new Dictionary<string, (string? Kind, string? ApiVersion)>(StringComparer.Ordinal);
        // Objects sit side by side (a folder of objects has no sub-folders), so one read covers them;
        // the limit bounds the read should folders sit in between.
        var page = await RangeAsync(first, end, objects.Count * 2L + 16, keysOnly: false, revision, ct).ConfigureAwait(false);
        foreach (var kv in page.Kvs)
        {
            types[kv.Key.ToStringUtf8()] = KubernetesValueDecoder.DecodeTypeMeta(kv.Value.Span);
        }
        return children.Select(c => types.TryGetValue(c.Key, out var t) ? c with { Kind = t.Kind, ApiVersion = t.ApiVersion } : c).ToList();
    }
}
