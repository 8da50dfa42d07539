namespace K3dEtcd.Browser;

/// <summary>One child of a folder as counted from its keys: a sub-folder (its prefix) or a key.</summary>
public sealed record FolderChild(string Key, bool IsFolder, long Count, string FirstKey, long ModRevision);

/// <summary>
/// Folder listings (children with counts) kept current by the browser's watch, so that showing a
/// folder again, or refreshing it after a change, is answered from memory instead of reading its
/// keys again. A listing is scanned once at some revision R and then follows every watch event
/// after R; it is only kept when the watch is known to deliver every event after R (it started at
/// or before R + 1 and has not failed since), so counts stay exact under puts and deletes.
/// Memory is bounded: at most <see cref="MaxEntries"/> children over all listings (the least
/// recently used listings go first) and a listing that grows past
/// <see cref="KeyTreeService.MaxChildren"/> children is dropped.
/// </summary>
public sealed class FolderListingCache
{
    public const int MaxEntries = 60_000;
    /// <summary>Recent events kept to bring a listing scanned while they arrived up to date.</summary>
    private const int RecentCapacity = 8192;

    private sealed class Listing(long revision, SortedDictionary<string, FolderChild> children)
    {
        public long Revision { get; } = revision;
        public SortedDictionary<string, FolderChild> Children { get; } = children;
        public long LastUsed { get; set; }
    }

    private readonly object _gate = new();
    private readonly Dictionary<string, Listing> _listings = new(StringComparer.Ordinal);
    private readonly Queue<FeedEvent> _recent = new();
    private long _entries;
    private long _tick;
    // Every event from this revision on reaches Apply; long.MaxValue while no watch runs.
    private long _watchFrom = long.MaxValue;
    private long _forgottenUpTo;
    private int _epoch;

    /// <summary>Changes whenever the watch starts or fails: a scan begun in another epoch is not kept.</summary>
    public int Epoch
    {
        get { lock (_gate) return _epoch; }
    }

    public int Count
    {
        get { lock (_gate) return _listings.Count; }
    }

    /// <summary>The watch now delivers every event from <paramref name="fromRevision"/> on.</summary>
    public void WatchStarted(long fromRevision)
    {
        lock (_gate)
        {
            Reset();
            _watchFrom = fromRevision;
        }
    }

    /// <summary>The watch failed: events may be missed, so nothing cached can be trusted.</summary>
    public void WatchLost()
    {
        lock (_gate)
        {
            Reset();
            _watchFrom = long.MaxValue;
        }
    }

    private void Reset()
    {
        _listings.Clear();
        _recent.Clear();
        _entries = 0;
        _forgottenUpTo = 0;
        _epoch++;
    }

    /// <summary>A change from the watch (in revision order), before the pages hear of it.</summary>
    public void Apply(FeedEvent ev)
    {
        lock (_gate)
        {
            if (_recent.Count >= RecentCapacity) _forgottenUpTo = _recent.Dequeue().Revision;
            _recent.Enqueue(ev);
            if (_listings.Count == 0) return;
            // The listings that can hold the key: the root and every prefix of it ending in '/'.
            ApplyTo("", ev);
            for (var i = ev.Key.IndexOf('/'); i >= 0; i = ev.Key.IndexOf('/', i + 1)) ApplyTo(ev.Key[..(i + 1)], ev);
        }
    }

    private void ApplyTo(string prefix, FeedEvent ev)
    {
        if (!_listings.TryGetValue(prefix, out var listing) || ev.Revision <= listing.Revision) return;
        var rest = ev.Key.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        var childKey = slash < 0 ? ev.Key : ev.Key[..(prefix.Length + slash + 1)];
        var exists = listing.Children.TryGetValue(childKey, out var child);
        if (ev.Type == "delete")
        {
            if (!exists) { Drop(prefix); return; } // not what was counted: read it again next time
            if (child!.Count <= 1) { listing.Children.Remove(childKey); _entries--; }
            else listing.Children[childKey] = child with { Count = child.Count - 1 };
            return;
        }
        if (ev.Version == 1)
        {
            if (exists) listing.Children[childKey] = child! with { Count = child.Count + 1 };
            else
            {
                listing.Children[childKey] = new FolderChild(childKey, slash >= 0, 1, ev.Key, ev.Revision);
                _entries++;
                if (listing.Children.Count > KeyTreeService.MaxChildren) Drop(prefix);
                else TrimToBudget(keep: null);
            }
            return;
        }
        if (!exists) { Drop(prefix); return; }
        if (!child!.IsFolder) listing.Children[childKey] = child with { ModRevision = ev.Revision };
    }

    private void Drop(string prefix)
    {
        if (_listings.Remove(prefix, out var listing)) _entries -= listing.Children.Count;
    }

    /// <summary>The children of <paramref name="prefix"/> in key order, when a listing is cached.</summary>
    public bool TryGet(string prefix, out List<FolderChild> children)
    {
        lock (_gate)
        {
            if (!_listings.TryGetValue(prefix, out var listing))
            {
                children = [];
                return false;
            }
            listing.LastUsed = ++_tick;
            children = [.. listing.Children.Values];
            return true;
        }
    }

    /// <summary>
    /// Keeps listings read at <paramref name="revision"/> in <paramref name="epoch"/>, brought up to
    /// date with the events that arrived meanwhile; nothing is kept when the watch cannot vouch for
    /// every event after that revision.
    /// </summary>
    public void Store(int epoch, long revision, IReadOnlyDictionary<string, List<FolderChild>> listings)
    {
        lock (_gate)
        {
            if (epoch != _epoch || _watchFrom > revision + 1 || _forgottenUpTo > revision) return;
            foreach (var (prefix, children) in listings)
            {
                Drop(prefix);
                var sorted = new SortedDictionary<string, FolderChild>(KeyOrder.Instance);
                foreach (var c in children) sorted[c.Key] = c;
                _listings[prefix] = new Listing(revision, sorted) { LastUsed = ++_tick };
                _entries += sorted.Count;
                foreach (var ev in _recent)
                {
                    if (ev.Revision > revision && ev.Key.StartsWith(prefix, StringComparison.Ordinal)) ApplyTo(prefix, ev);
                }
            }
            TrimToBudget(keep: listings.Keys);
        }
    }

    private void TrimToBudget(IEnumerable<string>? keep)
    {
        while (_entries > MaxEntries && _listings.Count > 0)
        {
            var oldest = _listings.Where(l => keep is null || !keep.Contains(l.Key)).OrderBy(l => l.Value.LastUsed).Select(l => l.Key).FirstOrDefault();
            if (oldest is null) break;
            Drop(oldest);
        }
    }
}

/// <summary>etcd's key order (bytes of UTF-8) for .NET strings: code point order, which ordinal UTF-16 order is not above U+D7FF.</summary>
public sealed class KeyOrder : IComparer<string>
{
    public static readonly KeyOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null) return x is null ? (y is null ? 0 : -1) : 1;
        var n = Math.Min(x.Length, y.Length);
        for (var i = 0; i < n; i++)
        {
            if (x[i] != y[i]) return Weight(x[i]) - Weight(y[i]);
        }
        return x.Length - y.Length;
    }

    // Surrogates (code points above U+FFFF) sort after U+E000-U+FFFF, as their UTF-8 bytes do.
    private static int Weight(char c) => c >= 0xE000 ? c - 0x800 : c >= 0xD800 ? c + 0x2000 : c;
}
