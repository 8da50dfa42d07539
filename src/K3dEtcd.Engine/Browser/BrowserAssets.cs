using System.Collections.Concurrent;
using System.Net;

namespace K3dEtcd.Browser;

/// <summary>The page's files, embedded in this assembly (see the project file): no CDN, works offline.</summary>
internal static class BrowserAssets
{
    private static readonly ConcurrentDictionary<string, byte[]> Cache = new(StringComparer.Ordinal);

    /// <summary>Path → embedded file and its content type.</summary>
    private static readonly Dictionary<string, (string Name, string ContentType)> Routes = new(StringComparer.Ordinal)
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/index.html"] = ("index.html", "text/html; charset=utf-8"),
        ["/app.js"] = ("app.js", "text/javascript; charset=utf-8"),
        ["/app.css"] = ("app.css", "text/css; charset=utf-8"),
        ["/favicon.svg"] = ("favicon.svg", "image/svg+xml"),
        ["/favicon.ico"] = ("favicon.svg", "image/svg+xml"),
    };

    /// <summary>Answers a GET of one of the page's files; false for any other request.</summary>
    public static async Task<bool> TryServeAsync(string path, string method, HttpListenerResponse response)
    {
        if (method != "GET" || !Routes.TryGetValue(path, out var asset)) return false;
        await BrowserHttp.WriteBytesAsync(response, 200, asset.ContentType, Get(asset.Name)).ConfigureAwait(false);
        return true;
    }

    public static byte[] Get(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(BrowserAssets).Assembly.GetManifestResourceStream("K3dEtcd.Browser." + n)
            ?? throw new InvalidOperationException($"The browser asset {n} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });
}
