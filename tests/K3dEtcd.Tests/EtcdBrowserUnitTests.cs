using K3dEtcd.Browser;

namespace K3dEtcd.Tests;

/// <summary>The browser's pure parts: value views and request parsing.</summary>
public sealed class EtcdBrowserUnitTests
{
    [Fact]
    public void The_protobuf_dump_names_the_envelope_and_metadata_and_nests_messages()
    {
        var value = KubernetesProtobuf.Namespace("default", "uid-1");
        var dump = KeyDetailService.DumpEnvelope(value.AsSpan(4));
        Assert.Contains("1 typeMeta {\n  1 apiVersion: \"v1\"\n  2 kind: \"Namespace\"\n}", dump);
        Assert.Contains("  1 metadata {\n    1 name: \"default\"\n    5 uid: \"uid-1\"", dump);
        Assert.Contains("    8 creationTimestamp {\n      1: 1700000000\n    }", dump);
        // spec { finalizers: ["kubernetes"] } is a nested message, not the string "\n\nkubernetes".
        Assert.Contains("  2 {\n    1: \"kubernetes\"\n  }", dump);
        Assert.Contains("3 contentEncoding: \"\"", dump);
    }

    [Fact]
    public void Malformed_protobuf_is_reported_not_thrown()
    {
        var dump = KeyDetailService.DumpEnvelope(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01 });
        Assert.Contains("malformed", dump);
    }

    [Theory]
    [InlineData("{\"a\":[1,2]}", "{\n  \"a\": [\n    1,\n    2\n  ]\n}")]
    [InlineData("[\"<b>\"]", "[\n  \"<b>\"\n]")]
    [InlineData("not json", null)]
    [InlineData("{broken", null)]
    public void Json_values_are_indented_and_other_text_is_not(string text, string? expected) =>
        Assert.Equal(expected, KeyDetailService.IndentJson(text));

    [Fact]
    public void The_hex_dump_shows_offsets_bytes_and_printable_characters()
    {
        var dump = KeyDetailService.HexDump("k8s\0abcdefghijklmnop"u8, 1024);
        Assert.StartsWith("00000000  6b 38 73 00 61 62 63 64  65 66 67 68 69 6a 6b 6c  k8s.abcdefghijkl\n00000010  6d 6e 6f 70", dump);
        Assert.Equal(2, dump.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Query_values_are_percent_decoded_and_plus_stays_a_plus()
    {
        var q = BrowserHttp.ParseQuery("?prefix=%2Fregistry%2F&key=a+b%20c&token=x&empty=");
        Assert.Equal("/registry/", q["prefix"]);
        Assert.Equal("a+b c", q["key"]);
        Assert.Equal("", q["empty"]);
        Assert.Empty(BrowserHttp.ParseQuery(null));
    }

    [Theory]
    [InlineData("k3detcd-browser-1234=abc", "abc")]
    [InlineData("other=1; k3detcd-browser-1234=abc; more=2", "abc")]
    [InlineData("k3detcd-browser-12345=abc", null)]   // another port's browser
    [InlineData("xk3detcd-browser-1234=abc", null)]
    [InlineData(null, null)]
    public void The_cookie_is_read_by_its_exact_name(string? header, string? expected) =>
        Assert.Equal(expected, BrowserRequestGuard.CookieValue(header, "k3detcd-browser-1234"));

    private static FeedEvent Put(string key, long revision, long version = 1) => new("put", key, revision, version, revision, 0);
    private static FeedEvent Delete(string key, long revision) => new("delete", key, revision, 0, 0, 0);

    private static Dictionary<string, List<FolderChild>> Listing(string prefix, params (string Child, bool Folder, long Count)[] children) =>
        new() { [prefix] = children.Select(c => new FolderChild(prefix + c.Child, c.Folder, c.Count, prefix + c.Child + (c.Folder ? "x" : ""), 1)).ToList() };

    private static Dictionary<string, long> Counts(FolderListingCache cache, string prefix)
    {
        Assert.True(cache.TryGet(prefix, out var children), $"{prefix} is not cached");
        return children.ToDictionary(c => c.Key, c => c.Count);
    }

    [Fact]
    public void A_cached_listing_follows_puts_and_deletes_after_its_revision_and_ignores_older_ones()
    {
        var cache = new FolderListingCache();
        cache.WatchStarted(fromRevision: 11);
        var epoch = cache.Epoch;
        cache.Apply(Put("/r/a/late", 12)); // arrived while the walk at revision 11 ran
        cache.Apply(Put("/r/a/old", 11));  // already in the walk
        cache.Store(epoch, 11, Listing("/r/", ("a/", true, 2), ("b", false, 1)));
        Assert.Equal(new Dictionary<string, long> { ["/r/a/"] = 3, ["/r/b"] = 1 }, Counts(cache, "/r/"));

        cache.Apply(Put("/r/c/new", 13));
        cache.Apply(Put("/r/a/late", 14, version: 2)); // an overwrite counts nothing
        cache.Apply(Delete("/r/b", 15));
        cache.Apply(Delete("/r/a/x", 16));
        Assert.Equal(new Dictionary<string, long> { ["/r/a/"] = 2, ["/r/c/"] = 1 }, Counts(cache, "/r/"));
        Assert.Equal(["/r/a/", "/r/c/"], cache.TryGet("/r/", out var ordered) ? ordered.Select(c => c.Key) : []);
    }

    [Fact]
    public void A_listing_is_not_kept_when_the_watch_cannot_vouch_for_every_later_event()
    {
        var cache = new FolderListingCache();
        cache.Store(cache.Epoch, 10, Listing("/r/", ("a", false, 1)));
        Assert.False(cache.TryGet("/r/", out _)); // no watch yet

        cache.WatchStarted(fromRevision: 20);
        cache.Store(cache.Epoch, 10, Listing("/r/", ("a", false, 1)));
        Assert.False(cache.TryGet("/r/", out _)); // events 11-19 were never watched

        var epoch = cache.Epoch;
        cache.WatchLost();
        cache.Store(epoch, 25, Listing("/r/", ("a", false, 1)));
        Assert.False(cache.TryGet("/r/", out _)); // the watch failed while the walk ran

        cache.WatchStarted(fromRevision: 30);
        cache.Store(cache.Epoch, 29, Listing("/r/", ("a", false, 1)));
        Assert.True(cache.TryGet("/r/", out _));
        cache.Apply(Delete("/r/missing", 31)); // not what was counted: dropped, read again next time
        Assert.False(cache.TryGet("/r/", out _));
    }

    [Fact]
    public void Keys_are_ordered_as_etcd_orders_their_utf8_bytes()
    {
        string[] keys = ["a/", "a-b", "a", "\uFF01", "\U0001F600", "\u00E9"];
        var bytewise = keys.OrderBy(k => Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(k)), StringComparer.Ordinal).ToList();
        Assert.Equal(bytewise, keys.Order(KeyOrder.Instance).ToList());
    }
}
