using System.Collections.Concurrent;

namespace K3dEtcd.Browser;

/// <summary>The page's files, embedded in this assembly (see the project file): no CDN, works offline.</summary>
internal static class BrowserAssets
{
    private static readonly ConcurrentDictionary<string, byte[]> Cache = new(StringComparer.Ordinal);

    public static byte[] Get(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(BrowserAssets).Assembly.GetManifestResourceStream("K3dEtcd.Browser." + n)
            ?? throw new InvalidOperationException($"The browser asset {n} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });
}
