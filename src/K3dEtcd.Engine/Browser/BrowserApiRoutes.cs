using System.Net;
using System.Text;
using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Data;

namespace K3dEtcd.Browser;

/// <summary>
/// The page's JSON API (tree, open, search, key, history, cluster, events, put, delete) over the
/// browser's one etcd connection; reached only through <see cref="BrowserRequestGuard"/>.
/// Writes need -AllowWrite, a JSON body and a custom header (no cross-site form can send it).
/// </summary>
internal sealed class BrowserApiRoutes(EtcdConnection connection, EtcdBrowserOptions options, ChangeFeed feed, FolderListingCache listings) : IDisposable
{
    private const string WriteHeader = "X-K3dEtcd-Browser";
    private const int MaxBodyBytes = 2 * 1024 * 1024;
    private const int DefaultLimit = 500;

    private readonly KeyTreeService _tree = new(connection, listings);
    private readonly KeyDetailService _detail = new(connection);
    private readonly EtcdKeyService _keys = new(connection);
    private readonly ClusterPanelSource _cluster = new(connection, options.HostEndpoints, feed);

    /// <summary>Answers the request when <paramref name="path"/> is an API route; false otherwise.</summary>
    public async Task<bool> TryHandleAsync(string path, HttpListenerRequest request, HttpListenerResponse response, IReadOnlyDictionary<string, string> query, CancellationToken ct)
    {
        var limit = int.TryParse(query.GetValueOrDefault("limit"), out var l) ? l : DefaultLimit;
        switch (path)
        {
            case "/api/info" when request.HttpMethod == "GET":
                await BrowserHttp.WriteJsonAsync(response, 200, new
                {
                    cluster = options.ClusterName,
                    endpoints = connection.Endpoints,
                    tls = connection.Options.UsesTls,
                    allowWrite = options.AllowWrite,
                    maxChildren = KeyTreeService.MaxChildren,
                }).ConfigureAwait(false);
                return true;
            case "/api/children" when request.HttpMethod == "GET":
            {
                var page = await _tree.ListAsync(query.GetValueOrDefault("prefix") ?? "", query.GetValueOrDefault("after"), limit, ct).ConfigureAwait(false);
                await BrowserHttp.WriteJsonAsync(response, 200, page).ConfigureAwait(false);
                return true;
            }
            case "/api/open" when request.HttpMethod == "GET":
                await BrowserHttp.WriteJsonAsync(response, 200, new { pages = await OpenAsync(limit, ct).ConfigureAwait(false) }).ConfigureAwait(false);
                return true;
            case "/api/search" when request.HttpMethod == "GET":
            {
                var text = query.GetValueOrDefault("q") ?? "";
                if (text.Length == 0) throw new K3dEtcdException(ErrorCatalog.EtcdBrowserSearchEmpty, "Type some text to search for.");
                var (matches, truncated, scanned) = await _tree.SearchAsync(text, limit, ct).ConfigureAwait(false);
                await BrowserHttp.WriteJsonAsync(response, 200, new { query = text, matches, truncated, scanned }).ConfigureAwait(false);
                return true;
            }
            case "/api/key" when request.HttpMethod == "GET":
            {
                var key = query.GetValueOrDefault("key") ?? "";
                var rev = long.TryParse(query.GetValueOrDefault("rev"), out var r) ? r : 0;
                var detail = await _detail.GetAsync(key, rev, ct).ConfigureAwait(false);
                if (detail is null) await BrowserHttp.WriteJsonAsync(response, 404, new { error = "The key does not exist" + (rev > 0 ? $" at revision {rev}." : "."), errorId = "EtcdKeyNotFound" }).ConfigureAwait(false);
                else await BrowserHttp.WriteJsonAsync(response, 200, detail).ConfigureAwait(false);
                return true;
            }
            case "/api/history" when request.HttpMethod == "GET":
                await BrowserHttp.WriteJsonAsync(response, 200, await _detail.GetHistoryAsync(query.GetValueOrDefault("key") ?? "", ct).ConfigureAwait(false)).ConfigureAwait(false);
                return true;
            case "/api/cluster" when request.HttpMethod == "GET":
                await BrowserHttp.WriteBytesAsync(response, 200, "application/json; charset=utf-8", await _cluster.JsonAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
                return true;
            case "/api/events" when request.HttpMethod == "GET":
                await BrowserLivePush.StreamAsync(feed, response, ct).ConfigureAwait(false);
                return true;
            case "/api/put" or "/api/delete" when request.HttpMethod == "POST":
                await WriteAsync(path, request, response, ct).ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Reads the page's first view as soon as the watch runs, so the tree is known (and kept
    /// current) by the time a browser asks; a page asking meanwhile waits for this walk.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken ct)
    {
        try
        {
            await feed.Started.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            await OpenAsync(DefaultLimit, ct).ConfigureAwait(false);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // Only a head start: the page reads (and reports) for itself.
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The root and, while a folder is the only child, that folder too: the page's first view in one request.</summary>
    private async Task<List<KeyTreePage>> OpenAsync(int limit, CancellationToken ct)
    {
        var pages = new List<KeyTreePage>();
        var prefix = "";
        for (var depth = 0; depth < 16; depth++)
        {
            var page = await _tree.ListAsync(prefix, null, limit, ct).ConfigureAwait(false);
            pages.Add(page);
            if (page.Children.Count != 1 || !page.Children[0].IsFolder) break;
            prefix = page.Children[0].Key;
        }
        return pages;
    }

    private sealed record WriteRequest(string? Key, string? Value);

    private async Task WriteAsync(string path, HttpListenerRequest request, HttpListenerResponse response, CancellationToken ct)
    {
        if (!options.AllowWrite)
        {
            await BrowserHttp.WriteJsonAsync(response, 403, new { error = "This browser is read-only; start it with -AllowWrite to put and delete keys.", errorId = "EtcdBrowserReadOnly" }).ConfigureAwait(false);
            return;
        }
        // A cross-site form cannot set this header or a JSON content type without a preflight we never grant.
        if (request.Headers[WriteHeader] != "1" || !(request.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            await BrowserHttp.WriteJsonAsync(response, 403, new { error = "Writes come only from the browser's own page.", errorId = "EtcdBrowserWriteRefused" }).ConfigureAwait(false);
            return;
        }
        WriteRequest? body;
        try
        {
            using var limited = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = await request.InputStream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                if (limited.Length + n > MaxBodyBytes) throw new K3dEtcdException(ErrorCatalog.EtcdBrowserBodyTooLarge, $"A value may be at most {MaxBodyBytes / 1024 / 1024} MB here.");
                limited.Write(buffer, 0, n);
            }
            body = JsonSerializer.Deserialize<WriteRequest>(limited.ToArray(), BrowserHttp.JsonOptions);
        }
        catch (JsonException)
        {
            body = null;
        }
        if (body?.Key is not { Length: > 0 } key)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdKeyEmpty, "The key must not be empty.");
        }
        if (path == "/api/put")
        {
            var put = await _keys.PutBatchAsync([new EtcdPut(key, Encoding.UTF8.GetBytes(body.Value ?? ""))], ct).ConfigureAwait(false);
            await BrowserHttp.WriteJsonAsync(response, 200, new { key, modRevision = put[0].ModRevision }).ConfigureAwait(false);
        }
        else
        {
            var deleted = await _keys.DeleteBatchAsync([new EtcdKeyService.EtcdDelete(key, false)], returnKeys: false, ct).ConfigureAwait(false);
            await BrowserHttp.WriteJsonAsync(response, 200, new { key, deleted = deleted[0].Count }).ConfigureAwait(false);
        }
    }

    public void Dispose() => _cluster.Dispose();
}
