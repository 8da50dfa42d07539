// Long because: every route of the page (tree, key, history, search, writes, events, cluster) shares the one request guard (token cookie, Host check, security headers) and the session's etcd connection; splitting the routes from the guard is the next clean-up.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using K3dEtcd.Common;
using K3dEtcd.Etcd;
using K3dEtcd.Model;

namespace K3dEtcd.Browser;

/// <summary>What to serve and how.</summary>
public sealed class EtcdBrowserOptions
{
    /// <summary>Shown on the page and in Get-EtcdBrowser: the cluster name or the endpoints.</summary>
    public string ClusterName { get; init; } = "";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }
    public bool AllowWrite { get; init; }
    /// <summary>Member name → client URL this host reaches it at (see <see cref="EtcdClusterStatusService"/>).</summary>
    public IReadOnlyDictionary<string, string?>? HostEndpoints { get; init; }
}

/// <summary>
/// The etcd browser: a small HTTP server on loopback (System.Net.HttpListener, from the BCL, so it
/// runs in any pwsh without ASP.NET Core) serving an embedded page and a JSON API over one etcd
/// connection, plus a Server-Sent Events stream fed by a watch.
/// Security, since keys and values are untrusted and any local web page could call us: loopback
/// only; every request carries the per-browser token (given once in the URL, then kept in an
/// HttpOnly SameSite=Strict cookie and stripped from the address bar by a redirect); the Host
/// header must name our loopback address (DNS rebinding); a Content-Security-Policy without inline
/// script; writes need -AllowWrite, a JSON body and a custom header (no cross-site form can send it).
/// The server owns the connection and closes it when stopped.
/// </summary>
public sealed class EtcdBrowserServer : IAsyncDisposable
{
    public const string TokenParameter = "token";
    private const string WriteHeader = "X-K3dEtcd-Browser";
    private const int MaxBodyBytes = 2 * 1024 * 1024;
    private static readonly TimeSpan ClusterCacheTime = TimeSpan.FromMilliseconds(900);

    private static int _lastId;

    private readonly EtcdConnection _connection;
    private readonly EtcdBrowserOptions _options;
    private readonly HttpListener _listener;
    private readonly string _token;
    private readonly string _cookieName;
    private readonly string[] _allowedHosts;
    private readonly CancellationTokenSource _stop = new();
    private readonly ChangeFeed _feed;
    private readonly KeyTreeService _tree;
    private readonly KeyDetailService _detail;
    private readonly EtcdKeyService _keys;
    private readonly SemaphoreSlim _clusterGate = new(1, 1);
    private (DateTime At, byte[] Json)? _clusterCache;
    private Task? _acceptLoop;
    private int _stopped;

    public int Id { get; }
    public int Port { get; }
    public DateTime Started { get; } = DateTime.UtcNow;
    public bool IsRunning => Volatile.Read(ref _stopped) == 0;
    /// <summary>The URL to open, with the access token.</summary>
    public string Url { get; }
    /// <summary>The page's address without the token (for messages).</summary>
    public string BaseUrl { get; }

    private EtcdBrowserServer(EtcdConnection connection, EtcdBrowserOptions options, HttpListener listener, int port, string host)
    {
        _connection = connection;
        _options = options;
        _listener = listener;
        Port = port;
        Id = Interlocked.Increment(ref _lastId);
        _token = Base64Url(RandomNumberGenerator.GetBytes(32));
        // Browsers share cookies across the ports of one host: one cookie name per port keeps two browsers apart.
        _cookieName = $"k3detcd-browser-{port}";
        _allowedHosts = [$"127.0.0.1:{port}", $"localhost:{port}"];
        BaseUrl = $"http://{host}:{port}/";
        Url = $"{BaseUrl}?{TokenParameter}={_token}";
        _feed = new ChangeFeed(connection);
        _tree = new KeyTreeService(connection);
        _detail = new KeyDetailService(connection);
        _keys = new EtcdKeyService(connection);
    }

    /// <summary>Starts serving; the server takes ownership of <paramref name="connection"/>.</summary>
    public static EtcdBrowserServer Start(EtcdConnection connection, EtcdBrowserOptions options)
    {
        if (options.Port is < 0 or > 65535)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdBrowserPortInvalid, $"The port must be 1-65535 (or 0 for a free one), not {options.Port}.", options.Port);
        }
        // http.sys (Windows) lets a non-administrator listen on "localhost" only; elsewhere the
        // managed listener binds exactly the address named here, so it is the loopback address.
        var host = OperatingSystem.IsWindows() ? "localhost" : "127.0.0.1";
        var attempts = options.Port == 0 ? 10 : 1;
        for (var attempt = 1; ; attempt++)
        {
            var port = options.Port != 0 ? options.Port : FreeLoopbackPort();
            var listener = new HttpListener { IgnoreWriteExceptions = true };
            listener.Prefixes.Add($"http://{host}:{port}/");
            try
            {
                listener.Start();
            }
            catch (HttpListenerException ex)
            {
                listener.Close();
                if (attempt < attempts) continue; // another program took the free port in between
                throw new K3dEtcdException(ErrorCatalog.EtcdBrowserPortUnavailable, $"Cannot listen on {host}:{port}: {ex.Message}. Choose another -Port or leave it out for a free one.", port, ex);
            }
            var server = new EtcdBrowserServer(connection, options, listener, port, host);
            server._feed.Start();
            server._acceptLoop = Task.Run(server.AcceptLoopAsync);
            return server;
        }
    }

    private static int FreeLoopbackPort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        try { return ((IPEndPoint)probe.LocalEndpoint).Port; }
        finally { probe.Stop(); }
    }

    /// <summary>A snapshot for the pipeline.</summary>
    public EtcdBrowser Describe() => new()
    {
        Id = Id,
        Cluster = _options.ClusterName,
        Endpoints = _connection.Endpoints,
        Port = Port,
        Url = Url,
        AllowWrite = _options.AllowWrite,
        Tls = _connection.Options.UsesTls,
        Started = Started,
        IsRunning = IsRunning,
    };

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                continue;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            AddSecurityHeaders(response);
            await RouteAsync(context).ConfigureAwait(false);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopping: the connection is being torn down anyway.
        }
        catch (K3dEtcdException ex)
        {
            await TryWriteErrorAsync(response, ex.Kind switch
            {
                FailureKind.InvalidArgument => 400,
                FailureKind.ObjectNotFound => 404,
                FailureKind.SecurityError => 502,
                _ => 502,
            }, ex.Message, ex.ErrorId).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The page went away mid-answer.
        }
        catch (Exception ex)
        {
            // No stack trace to the page: the type says enough to report a bug.
            await TryWriteErrorAsync(response, 500, $"internal error ({ex.GetType().Name})", "EtcdBrowserInternalError").ConfigureAwait(false);
        }
        finally
        {
            try { response.Close(); } catch (Exception) { }
        }
    }

    private static void AddSecurityHeaders(HttpListenerResponse response)
    {
        var h = response.Headers;
        h["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        h["X-Content-Type-Options"] = "nosniff";
        h["X-Frame-Options"] = "DENY";
        // The first URL carries the token: never send it on as a referrer.
        h["Referrer-Policy"] = "no-referrer";
        h["Cache-Control"] = "no-store";
        h["Cross-Origin-Opener-Policy"] = "same-origin";
        h["Cross-Origin-Resource-Policy"] = "same-origin";
    }

    private async Task RouteAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        // DNS rebinding: a foreign name resolving to 127.0.0.1 still sends its own Host.
        var hostHeader = request.Headers["Host"] ?? "";
        if (!_allowedHosts.Contains(hostHeader, StringComparer.OrdinalIgnoreCase))
        {
            await WriteTextAsync(response, 421, "This etcd browser answers only to its own loopback address.").ConfigureAwait(false);
            return;
        }
        var path = request.Url?.AbsolutePath ?? "/";
        var query = ParseQuery(request.Url?.Query);
        if (query.TryGetValue(TokenParameter, out var offered))
        {
            if (!TokenMatches(offered))
            {
                await WriteTextAsync(response, 401, "Wrong access token. Open the Url that Start-EtcdBrowser returned.").ConfigureAwait(false);
                return;
            }
            // Keep the token in a cookie the page's scripts cannot read, and take it out of the address bar and history.
            response.Headers.Add("Set-Cookie", $"{_cookieName}={_token}; Path=/; HttpOnly; SameSite=Strict");
            response.StatusCode = 303;
            response.RedirectLocation = path;
            return;
        }
        if (!TokenMatches(CookieValue(request.Headers["Cookie"], _cookieName)))
        {
            await WriteTextAsync(response, 401, "This etcd browser needs its access token. Open the Url that Start-EtcdBrowser returned.").ConfigureAwait(false);
            return;
        }
        var ct = _stop.Token;
        var method = request.HttpMethod;
        switch (path)
        {
            case "/" or "/index.html" when method == "GET":
                await WriteAssetAsync(response, "index.html", "text/html; charset=utf-8").ConfigureAwait(false);
                return;
            case "/app.js" when method == "GET":
                await WriteAssetAsync(response, "app.js", "text/javascript; charset=utf-8").ConfigureAwait(false);
                return;
            case "/app.css" when method == "GET":
                await WriteAssetAsync(response, "app.css", "text/css; charset=utf-8").ConfigureAwait(false);
                return;
            case "/favicon.svg" or "/favicon.ico" when method == "GET":
                await WriteAssetAsync(response, "favicon.svg", "image/svg+xml").ConfigureAwait(false);
                return;
            case "/api/info" when method == "GET":
                await WriteJsonAsync(response, 200, new
                {
                    cluster = _options.ClusterName,
                    endpoints = _connection.Endpoints,
                    tls = _connection.Options.UsesTls,
                    allowWrite = _options.AllowWrite,
                    maxChildren = KeyTreeService.MaxChildren,
                }).ConfigureAwait(false);
                return;
            case "/api/children" when method == "GET":
            {
                var prefix = query.GetValueOrDefault("prefix") ?? "";
                var limit = int.TryParse(query.GetValueOrDefault("limit"), out var l) ? l : 500;
                var page = await _tree.ListAsync(prefix, query.GetValueOrDefault("after"), limit, ct).ConfigureAwait(false);
                await WriteJsonAsync(response, 200, page).ConfigureAwait(false);
                return;
            }
            case "/api/open" when method == "GET":
            {
                // The root and, while a folder is the only child, that folder too: the page's first view in one request.
                var limit = int.TryParse(query.GetValueOrDefault("limit"), out var l) ? l : 500;
                var pages = new List<KeyTreePage>();
                var prefix = "";
                for (var depth = 0; depth < 16; depth++)
                {
                    var page = await _tree.ListAsync(prefix, null, limit, ct).ConfigureAwait(false);
                    pages.Add(page);
                    if (page.Children.Count != 1 || !page.Children[0].IsFolder) break;
                    prefix = page.Children[0].Key;
                }
                await WriteJsonAsync(response, 200, new { pages }).ConfigureAwait(false);
                return;
            }
            case "/api/search" when method == "GET":
            {
                var text = query.GetValueOrDefault("q") ?? "";
                if (text.Length == 0) throw new K3dEtcdException(ErrorCatalog.EtcdBrowserSearchEmpty, "Type some text to search for.");
                var limit = int.TryParse(query.GetValueOrDefault("limit"), out var l) ? l : 500;
                var (matches, truncated, scanned) = await _tree.SearchAsync(text, limit, ct).ConfigureAwait(false);
                await WriteJsonAsync(response, 200, new { query = text, matches, truncated, scanned }).ConfigureAwait(false);
                return;
            }
            case "/api/key" when method == "GET":
            {
                var key = query.GetValueOrDefault("key") ?? "";
                var rev = long.TryParse(query.GetValueOrDefault("rev"), out var r) ? r : 0;
                var detail = await _detail.GetAsync(key, rev, ct).ConfigureAwait(false);
                if (detail is null) await WriteJsonAsync(response, 404, new { error = "The key does not exist" + (rev > 0 ? $" at revision {rev}." : "."), errorId = "EtcdKeyNotFound" }).ConfigureAwait(false);
                else await WriteJsonAsync(response, 200, detail).ConfigureAwait(false);
                return;
            }
            case "/api/history" when method == "GET":
                await WriteJsonAsync(response, 200, await _detail.GetHistoryAsync(query.GetValueOrDefault("key") ?? "", ct).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            case "/api/cluster" when method == "GET":
                await WriteBytesAsync(response, 200, "application/json; charset=utf-8", await ClusterJsonAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            case "/api/events" when method == "GET":
                await StreamEventsAsync(response, ct).ConfigureAwait(false);
                return;
            case "/api/put" or "/api/delete" when method == "POST":
                await WriteAsync(path, request, response, ct).ConfigureAwait(false);
                return;
            default:
                await WriteTextAsync(response, 404, "Not found.").ConfigureAwait(false);
                return;
        }
    }

    private bool TokenMatches(string? offered) =>
        offered is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(offered), Encoding.UTF8.GetBytes(_token));

    private sealed record WriteRequest(string? Key, string? Value);

    private async Task WriteAsync(string path, HttpListenerRequest request, HttpListenerResponse response, CancellationToken ct)
    {
        if (!_options.AllowWrite)
        {
            await WriteJsonAsync(response, 403, new { error = "This browser is read-only; start it with -AllowWrite to put and delete keys.", errorId = "EtcdBrowserReadOnly" }).ConfigureAwait(false);
            return;
        }
        // A cross-site form cannot set this header or a JSON content type without a preflight we never grant.
        if (request.Headers[WriteHeader] != "1" || !(request.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            await WriteJsonAsync(response, 403, new { error = "Writes come only from the browser's own page.", errorId = "EtcdBrowserWriteRefused" }).ConfigureAwait(false);
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
            body = JsonSerializer.Deserialize<WriteRequest>(limited.ToArray(), JsonOptions);
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
            await WriteJsonAsync(response, 200, new { key, modRevision = put[0].ModRevision }).ConfigureAwait(false);
        }
        else
        {
            var deleted = await _keys.DeleteBatchAsync([new EtcdKeyService.EtcdDelete(key, false)], returnKeys: false, ct).ConfigureAwait(false);
            await WriteJsonAsync(response, 200, new { key, deleted = deleted[0].Count }).ConfigureAwait(false);
        }
    }

    /// <summary>Members, leader and follower latency; cached briefly so several tabs cost one round of probes.</summary>
    private async Task<byte[]> ClusterJsonAsync(CancellationToken ct)
    {
        await _clusterGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_clusterCache is { } c && DateTime.UtcNow - c.At < ClusterCacheTime) return c.Json;
            var status = new EtcdClusterStatusService(_connection);
            object payload;
            try
            {
                var members = await status.GetMembersAsync(_options.HostEndpoints, ct).ConfigureAwait(false);
                EtcdLeaderStats? leader = null;
                string? leaderProblem = null;
                if (members.Count > 1)
                {
                    try { leader = await status.GetLeaderStatsAsync(_options.HostEndpoints, ct).ConfigureAwait(false); }
                    catch (K3dEtcdException ex) { leaderProblem = ex.Message; }
                }
                payload = new
                {
                    at = DateTime.UtcNow,
                    watch = _feed.Problem,
                    members = members.Select(m => new
                    {
                        m.Id, m.Name, m.Endpoint, m.IsLeader, m.IsLearner, m.RaftTerm, m.RaftIndex, m.DbSize, m.Version, m.Healthy, m.Error,
                    }),
                    leader = leader is null ? null : new
                    {
                        leader.LeaderName, leader.Source,
                        followers = leader.Followers.Select(f => new
                        {
                            f.Id, f.Name, f.Reachable,
                            latencyCurrentMs = f.Latency.Current * 1000, latencyAverageMs = f.Latency.Average * 1000,
                            f.Counts.Fail, f.Counts.Success,
                        }),
                    },
                    leaderProblem,
                };
            }
            catch (K3dEtcdException ex)
            {
                payload = new { at = DateTime.UtcNow, watch = _feed.Problem, members = Array.Empty<object>(), error = ex.Message };
            }
            var json = JsonSerializer.SerializeToUtf8Bytes(payload, JsonOptions);
            _clusterCache = (DateTime.UtcNow, json);
            return json;
        }
        finally
        {
            _clusterGate.Release();
        }
    }

    /// <summary>Server-Sent Events: one "change" per put or delete, "reload" when changes were missed, a comment as keep-alive.</summary>
    private async Task StreamEventsAsync(HttpListenerResponse response, CancellationToken ct)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.SendChunked = true;
        using var subscriber = _feed.Subscribe();
        var output = response.OutputStream;
        await output.WriteAsync(": connected\nretry: 1000\n\n"u8.ToArray(), ct).ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
        var sb = new StringBuilder();
        while (!ct.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(15));
            bool more;
            try
            {
                more = await subscriber.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await output.WriteAsync(": keep-alive\n\n"u8.ToArray(), ct).ConfigureAwait(false);
                await output.FlushAsync(ct).ConfigureAwait(false);
                continue;
            }
            if (!more) return;
            sb.Clear();
            // Everything queued goes out in one write: a burst of puts costs one flush, not one each.
            var reload = subscriber.TakeDropped();
            while (sb.Length < 256 * 1024 && subscriber.Reader.TryRead(out var ev))
            {
                if (ev is null) { reload = true; continue; }
                sb.Append("event: change\ndata: ").Append(JsonSerializer.Serialize(ev, JsonOptions)).Append("\n\n");
            }
            if (reload) sb.Append("event: reload\ndata: {}\n\n");
            await output.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), ct).ConfigureAwait(false);
            await output.FlushAsync(ct).ConfigureAwait(false);
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        // The page renders with textContent; escaping < > & in JSON strings as well costs nothing.
        Encoder = JavaScriptEncoder.Default,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static Task WriteJsonAsync(HttpListenerResponse response, int status, object payload) =>
        WriteBytesAsync(response, status, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), JsonOptions));

    private static Task WriteTextAsync(HttpListenerResponse response, int status, string text) =>
        WriteBytesAsync(response, status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text + "\n"));

    private static async Task TryWriteErrorAsync(HttpListenerResponse response, int status, string message, string errorId)
    {
        try { await WriteJsonAsync(response, status, new { error = message, errorId }).ConfigureAwait(false); }
        catch (Exception) { } // headers already sent (an event stream): nothing more to say
    }

    private static async Task WriteBytesAsync(HttpListenerResponse response, int status, string contentType, byte[] body)
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
    }

    private static async Task WriteAssetAsync(HttpListenerResponse response, string name, string contentType)
    {
        await WriteBytesAsync(response, 200, contentType, BrowserAssets.Get(name)).ConfigureAwait(false);
    }

    /// <summary>Query string parameters, percent-decoded as UTF-8 ('+' is a plus: the page encodes with encodeURIComponent).</summary>
    internal static Dictionary<string, string> ParseQuery(string? query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query)) return result;
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var name = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
            result.TryAdd(name, value);
        }
        return result;
    }

    internal static string? CookieValue(string? header, string name)
    {
        if (header is null) return null;
        foreach (var part in header.Split(';'))
        {
            var p = part.Trim();
            if (p.Length > name.Length && p.StartsWith(name, StringComparison.Ordinal) && p[name.Length] == '=') return p[(name.Length + 1)..];
        }
        return null;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Stops serving, ends open event streams, frees the port and closes the etcd connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _stop.Cancel();
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        try { _listener.Close(); } catch (ObjectDisposedException) { }
        if (_acceptLoop is not null)
        {
            try { await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (Exception) { }
        }
        await _feed.DisposeAsync().ConfigureAwait(false);
        _connection.Dispose();
        if (_launchDirectory is not null)
        {
            try { Directory.Delete(_launchDirectory, recursive: true); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        _clusterGate.Dispose();
        _stop.Dispose();
    }

    private string? _launchDirectory;

    /// <summary>
    /// A private file that forwards to <see cref="Url"/> (a meta refresh, no script), for opening
    /// the page without the token on a command line; removed when the server stops.
    /// </summary>
    internal string CreateLaunchFile()
    {
        // CreateTempSubdirectory makes the folder 0700 on Unix.
        _launchDirectory ??= Directory.CreateTempSubdirectory("k3detcd-browser-").FullName;
        var file = Path.Combine(_launchDirectory, "open.html");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(file, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write($"<!doctype html><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\"><meta http-equiv=\"refresh\" content=\"0;url={Url}\"><title>etcd browser</title><a href=\"{Url}\">Open the etcd browser</a>");
        }
        return file;
    }

    /// <summary>Synchronous stop for module removal and runspace close.</summary>
    public void Stop() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
