using System.Net;
using System.Net.Sockets;
using K3dEtcd.Common;
using K3dEtcd.Data;
using K3dEtcd.Model;

namespace K3dEtcd.Browser;

/// <summary>
/// The etcd browser: a small HTTP server on loopback (System.Net.HttpListener, from the BCL, so it
/// runs in any pwsh without ASP.NET Core). Every request passes the <see cref="BrowserRequestGuard"/>,
/// then gets the page's files (<see cref="BrowserAssets"/>) or its API (<see cref="BrowserApiRoutes"/>,
/// with the live push of <see cref="BrowserLivePush"/>). The server owns the etcd connection and
/// closes it when stopped.
/// </summary>
public sealed class EtcdBrowserServer : IAsyncDisposable
{
    public const string TokenParameter = "token";

    private static int _lastId;

    private readonly EtcdConnection _connection;
    private readonly EtcdBrowserOptions _options;
    private readonly HttpListener _listener;
    private readonly BrowserRequestGuard _guard;
    private readonly CancellationTokenSource _stop = new();
    private readonly ChangeFeed _feed;
    private readonly BrowserApiRoutes _api;
    private Task? _acceptLoop;
    private int _stopped;
    private string? _launchDirectory;

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
        _guard = new BrowserRequestGuard(port);
        BaseUrl = $"http://{host}:{port}/";
        Url = _guard.UrlWithToken(BaseUrl);
        var listings = new FolderListingCache();
        _feed = new ChangeFeed(connection, listings);
        _api = new BrowserApiRoutes(connection, options, _feed, listings);
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
            _ = Task.Run(() => server._api.WarmUpAsync(server._stop.Token));
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
            BrowserRequestGuard.AddSecurityHeaders(response);
            await RouteAsync(context.Request, response).ConfigureAwait(false);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopping: the connection is being torn down anyway.
        }
        catch (K3dEtcdException ex)
        {
            await BrowserHttp.TryWriteErrorAsync(response, ex.Kind switch
            {
                FailureKind.InvalidArgument => 400,
                FailureKind.ObjectNotFound => 404,
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
            await BrowserHttp.TryWriteErrorAsync(response, 500, $"internal error ({ex.GetType().Name})", "EtcdBrowserInternalError").ConfigureAwait(false);
        }
        finally
        {
            try { response.Close(); } catch (Exception) { }
        }
    }

    private async Task RouteAsync(HttpListenerRequest request, HttpListenerResponse response)
    {
        var path = request.Url?.AbsolutePath ?? "/";
        var query = BrowserHttp.ParseQuery(request.Url?.Query);
        if (!await _guard.AdmitAsync(request, response, query, path).ConfigureAwait(false)) return;
        if (await BrowserAssets.TryServeAsync(path, request.HttpMethod, response).ConfigureAwait(false)) return;
        if (await _api.TryHandleAsync(path, request, response, query, _stop.Token).ConfigureAwait(false)) return;
        await BrowserHttp.WriteTextAsync(response, 404, "Not found.").ConfigureAwait(false);
    }

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
        _api.Dispose();
        _stop.Dispose();
    }

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
