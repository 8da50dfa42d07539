using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Data;

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
/// The tree of keys by '/' segments, read lazily. A folder's children and their counts come from
/// one walk over the folder's keys (keys only, in pages, so memory stays bounded however many keys
/// there are), grouped here; the walk also lists the folders one and two levels below, so the
/// page's first view ("", "/", "/registry/") costs one walk. Listings are kept in a
/// <see cref="FolderListingCache"/> that the watch keeps current, so opening a folder again or
/// refreshing it after a change is answered from memory. (Listing by jumping over each sub-folder
/// costs a request per sub-folder, and on etcd 3.4 every limited range walks the rest of the
/// folder: 20 sub-folders over 100k keys took about a second.)
/// </summary>
public sealed class KeyTreeService(EtcdConnection connection, FolderListingCache? cache = null)
{
    /// <summary>Keys asked per range read while walking a folder.</summary>
    private const int ScanPage = 1024;
    public const int MaxChildren = 2000;
    /// <summary>Children of the folders below the one listed that one walk may collect.</summary>
    private const int SubListingBudget = 20_000;

    private readonly EtcdKeyService _keys = new(connection);
    private readonly ConcurrentDictionary<string, Lazy<Task<(List<FolderChild>, long)>>> _walks = new(StringComparer.Ordinal);

    /// <summary>Children of <paramref name="prefix"/> ("" is the root), from <paramref name="after"/> (a Next cursor) on.</summary>
    public async Task<KeyTreePage> ListAsync(string prefix, string? after, int limit, CancellationToken ct)
    {
        limit = Math.Clamp(limit, 1, MaxChildren);
        // A cursor before the folder would walk keys outside it.
        if (after is not null && KeyOrder.Instance.Compare(after, prefix) < 0) after = null;
        List<FolderChild> children;
        long revision = 0;
        if (cache is null || !cache.TryGet(prefix, out children))
        {
            (children, revision) = string.IsNullOrEmpty(after)
                ? await WalkOnceAsync(prefix, ct).ConfigureAwait(false)
                : await ScanAsync(prefix, after, limit, ct).ConfigureAwait(false);
        }
        var from = string.IsNullOrEmpty(after) ? 0 : children.FindIndex(c => KeyOrder.Instance.Compare(c.Key, after) >= 0);
        if (from < 0) from = children.Count;
        var shown = children.Skip(from).Take(limit).Select(c => ToNode(prefix, c)).ToList();
        var next = from + limit < children.Count ? children[from + limit].Key : null;
        if (KubernetesValueDecoder.IsRegistryKey(prefix)) shown = await AddKubernetesTypesAsync(shown, revision, ct).ConfigureAwait(false);
        return new KeyTreePage(prefix, shown, next, revision);
    }

    /// <summary>One walk of a folder at a time: a page (or the warm-up at start) asking while it runs waits for it.</summary>
    private async Task<(List<FolderChild> Children, long Revision)> WalkOnceAsync(string prefix, CancellationToken ct)
    {
        var walk = _walks.GetOrAdd(prefix, p => new Lazy<Task<(List<FolderChild>, long)>>(() => ScanAsync(p, null, MaxChildren, ct)));
        try
        {
            return await walk.Value.ConfigureAwait(false);
        }
        finally
        {
            _walks.TryRemove(KeyValuePair.Create(prefix, walk));
        }
    }

    /// <summary>
    /// Walks the keys of <paramref name="prefix"/> and groups them into its children; a complete
    /// listing (and those of the folders below it, within a budget) goes to the cache. A folder with
    /// more than <see cref="MaxChildren"/> children, or a page after a cursor, is walked only as far
    /// as the page needs.
    /// </summary>
    private async Task<(List<FolderChild> Children, long Revision)> ScanAsync(string prefix, string? after, int limit, CancellationToken ct)
    {
        var epoch = cache?.Epoch ?? 0;
        var complete = string.IsNullOrEmpty(after);
        // Children wanted: the whole folder to cache it (up to the cap), else the page and the next one.
        var cap = complete ? MaxChildren : limit;
        var top = new FolderGrouping(prefix);
        var below = complete && cache is not null ? new SubFolderGroupings(prefix, SubListingBudget) : null;
        if (!complete)
        {
            long atRevision = 0;
            await foreach (var (key, modRevision, revision) in WalkFromAsync(prefix, after!, ct).ConfigureAwait(false))
            {
                atRevision = revision;
                if (!top.Add(key, modRevision, cap)) break;
            }
            return (top.Children, atRevision);
        }
        // The whole folder through the data path's paging (pages of a few MB, the next one read
        // while this one is grouped), all at one revision, the one the cache needs to know.
        var at = await ChangeFeed.CurrentRevisionAsync(connection, ct).ConfigureAwait(false);
        var query = prefix.Length == 0
            ? new EtcdKeyQuery { KeysOnly = true, Revision = at }
            : new EtcdKeyQuery { Key = prefix, Prefix = true, KeysOnly = true, Revision = at };
        await foreach (var kv in _keys.GetAsync(query, ct).ConfigureAwait(false))
        {
            // One child more than the cap has started: everything before it is counted, nothing is cached.
            if (!top.Add(kv.Key, kv.ModRevision, cap)) return (top.Children, at);
            below?.Add(kv.Key, kv.ModRevision);
        }
        if (cache is not null)
        {
            var listings = below!.Complete();
            listings[prefix] = top.Children;
            cache.Store(epoch, at, listings);
        }
        return (top.Children, at);
    }

    /// <summary>Keys of <paramref name="prefix"/> from <paramref name="after"/> on, in small pages (a page of the tree needs few).</summary>
    private async IAsyncEnumerable<(string Key, long ModRevision, long Revision)> WalkFromAsync(string prefix, string after, [EnumeratorCancellation] CancellationToken ct)
    {
        var prefixBytes = Encoding.UTF8.GetBytes(prefix);
        var end = prefixBytes.Length == 0 ? new byte[] { 0 } : EtcdKeyService.PrefixEnd(prefixBytes);
        var from = Encoding.UTF8.GetBytes(after);
        long revision = 0;
        while (true)
        {
            var page = await RangeAsync(from, end, ScanPage, keysOnly: true, revision, ct).ConfigureAwait(false);
            if (revision == 0) revision = page.Header.Revision;
            foreach (var kv in page.Kvs) yield return (kv.Key.ToStringUtf8(), kv.ModRevision, revision);
            if (!page.More || page.Kvs.Count == 0) yield break;
            var last = page.Kvs[^1].Key.Span;
            from = new byte[last.Length + 1];
            last.CopyTo(from);
        }
    }

    /// <summary>Counts keys (in key order) into the children of one folder.</summary>
    private sealed class FolderGrouping(string prefix)
    {
        private readonly List<FolderChild> _children = [];
        private long _lastCount;

        public string Prefix { get; } = prefix;
        public int Count => _children.Count;
        /// <summary>More children than a listing may hold: not kept.</summary>
        public bool Overflowed { get; set; }

        public List<FolderChild> Children
        {
            get
            {
                if (_children.Count > 0 && _children[^1].Count != _lastCount) _children[^1] = _children[^1] with { Count = _lastCount };
                return _children;
            }
        }

        /// <summary>False once the key starts a child beyond <paramref name="cap"/> (added, as the next page's cursor; not counted further).</summary>
        public bool Add(string key, long modRevision, int cap)
        {
            var slash = key.IndexOf('/', Prefix.Length);
            var childLength = slash < 0 ? key.Length : slash + 1;
            // Keys come in order, so a key of the child being counted only adds one (no string, no copy).
            if (_children.Count > 0 && _children[^1].IsFolder && slash >= 0 && key.AsSpan(0, childLength).SequenceEqual(_children[^1].Key))
            {
                _lastCount++;
                return true;
            }
            if (_children.Count > 0) _children[^1] = _children[^1] with { Count = _lastCount };
            _children.Add(new FolderChild(slash < 0 ? key : key[..childLength], slash >= 0, 1, key, modRevision));
            _lastCount = 1;
            return _children.Count <= cap;
        }
    }

    /// <summary>
    /// The listings of the folders one and two levels below the walked one, collected on the way.
    /// When their children pass the budget the deeper level is given up, then the other.
    /// </summary>
    private sealed class SubFolderGroupings(string prefix, int budget)
    {
        private readonly Dictionary<string, FolderGrouping>[] _levels = [new(StringComparer.Ordinal), new(StringComparer.Ordinal)];
        private readonly FolderGrouping?[] _current = new FolderGrouping?[2];
        private int _depth = 2;
        private long _entries;

        public void Add(string key, long modRevision)
        {
            var cut = prefix.Length;
            for (var level = 0; level < _depth; level++)
            {
                var slash = key.IndexOf('/', cut);
                if (slash < 0) return;
                cut = slash + 1;
                if (_current[level] is not { } grouping || !key.AsSpan(0, cut).SequenceEqual(grouping.Prefix))
                {
                    grouping = _current[level] = new FolderGrouping(key[..cut]);
                    _levels[level][grouping.Prefix] = grouping;
                }
                if (grouping.Overflowed) continue;
                var before = grouping.Count;
                var fits = grouping.Add(key, modRevision, MaxChildren);
                _entries += grouping.Count - before;
                if (!fits) { grouping.Overflowed = true; continue; }
                while (_entries > budget && _depth > 0)
                {
                    _depth--;
                    _entries -= _levels[_depth].Values.Sum(g => (long)g.Count);
                    _levels[_depth].Clear();
                    _current[_depth] = null;
                }
            }
        }

        public Dictionary<string, List<FolderChild>> Complete()
        {
            var result = new Dictionary<string, List<FolderChild>>(StringComparer.Ordinal);
            for (var level = 0; level < _depth; level++)
            {
                foreach (var (folder, g) in _levels[level])
                {
                    if (!g.Overflowed) result[folder] = g.Children;
                }
            }
            return result;
        }
    }

    private static KeyTreeNode ToNode(string prefix, FolderChild c) => c.IsFolder
        ? Folder(c.Key, c.Key[prefix.Length..], c.Count, c.FirstKey)
        : Leaf(c.Key[prefix.Length..], c.Key, c.ModRevision);

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
