using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using dotnet_etcd.interfaces;
using Grpc.Core;
using K3dEtcd.Common;

namespace K3dEtcd.Data;

/// <summary>
/// One open connection to an etcd cluster: a dotnet-etcd client over every endpoint (round-robin
/// with fail-over, so one member down stops nothing) and an HttpClient with the same TLS for the
/// HTTP-only surfaces (/health, /metrics, /v2/stats). Every gRPC failure leaves here as a
/// K3dEtcdException with a stable id.
/// </summary>
public sealed partial class EtcdConnection : IDisposable
{
    private readonly X509Certificate2Collection? _trustedRoots;
    private readonly X509Certificate2? _clientCertificate;
    private readonly Dictionary<string, EtcdConnection> _perEndpoint = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private bool _disposed;

    public EtcdConnectionOptions Options { get; }
    public EtcdClient Client { get; }
    /// <summary>Raw gRPC service clients of <see cref="Client"/> (KV, Watch, Cluster, Maintenance...).</summary>
    public IConnection Grpc => Client.GetConnection();
    /// <summary>HTTP client with the connection's TLS settings; its timeout is the connection's.</summary>
    public HttpClient Http { get; }
    public IOperationLog Log { get; }
    public string[] Endpoints => Options.Endpoints;

    private readonly bool _noRetry;

    /// <summary>How long a new connection (TCP and TLS) to one member may take before the attempt goes elsewhere.</summary>
    internal static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(3);

    private EtcdConnection(EtcdConnectionOptions options, IOperationLog log, X509Certificate2Collection? roots, X509Certificate2? clientCert, bool noRetry = false)
    {
        _noRetry = noRetry;
        Options = options;
        Log = log;
        _trustedRoots = roots;
        _clientCertificate = clientCert;
        var endpoints = string.Join(',', options.Endpoints.Select(e => e.Trim().TrimEnd('/')));
        if (options.UsesTls)
        {
            Client = new EtcdClient(endpoints, ConfigureSsl, configureChannelOptions: ConfigureChannel);
        }
        else
        {
            Client = new EtcdClient(endpoints, configureChannelOptions: ConfigureChannel);
        }
        if (options.Username is not null)
        {
            Client.SetCredentials(options.Username, options.Password!);
        }
        var handler = new SocketsHttpHandler { ConnectTimeout = options.Timeout, PooledConnectionLifetime = TimeSpan.FromMinutes(2) };
        if (options.UsesTls) handler.SslOptions = BuildSslOptions();
        Http = new HttpClient(handler) { Timeout = options.Timeout };
    }

    /// <summary>Validates the options, loads TLS material and builds the clients (no network yet).</summary>
    public static EtcdConnection Open(EtcdConnectionOptions options, IOperationLog? log = null)
    {
        options.Validate();
        log ??= NullOperationLog.Instance;
        X509Certificate2Collection? roots = null;
        X509Certificate2? clientCert = null;
        if (options.CaFile is not null)
        {
            roots = new X509Certificate2Collection();
            try { roots.ImportFromPemFile(options.CaFile); }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException) { roots.Clear(); }
            if (roots.Count == 0)
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdCaFileInvalid,
                    $"CA file '{options.CaFile}' holds no PEM certificate.", options.CaFile);
            }
        }
        if (options.CertFile is not null)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(options.CertFile, options.KeyFile);
                // SslStream on Windows cannot use an ephemeral PEM key; a PKCS#12 round trip makes it persistable everywhere.
                clientCert = new X509Certificate2(pem.Export(X509ContentType.Pkcs12));
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdClientCertificateInvalid,
                    $"Client certificate '{options.CertFile}' with key '{options.KeyFile}' could not be loaded: {ex.Message}", options.CertFile, ex);
            }
        }
        log.Verbose($"etcd: connecting to {options}.");
        return new EtcdConnection(options, log, roots, clientCert);
    }

    /// <summary>A connection to a single member (cached), for calls that must reach that member.</summary>
    public EtcdConnection ForEndpoint(string endpoint)
    {
        if (Options.Endpoints.Length == 1 && string.Equals(Options.Endpoints[0], endpoint, StringComparison.Ordinal)) return this;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_perEndpoint.TryGetValue(endpoint, out var c))
            {
                // A probe of one member should report that member's failure now, not retry it for seconds.
                c = new EtcdConnection(Options.ForEndpoint(endpoint), Log, _trustedRoots, _clientCertificate, noRetry: true);
                _perEndpoint[endpoint] = c;
            }
            return c;
        }
    }

    /// <summary>Call options with the connection's deadline (or <paramref name="timeout"/>) and the caller's token.</summary>
    public CallOptions CallOptions(CancellationToken ct, TimeSpan? timeout = null) =>
        new(deadline: DateTime.UtcNow + (timeout ?? Options.Timeout), cancellationToken: ct);

    /// <summary>Runs one gRPC call and maps its failure to a K3dEtcdException.</summary>
    public async Task<T> CallAsync<T>(string operation, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken ct, object? target = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Options.Timeout);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await CallOnceAsync(operation, call, new CallOptions(deadline: deadline, cancellationToken: ct), ct, target, timeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < Options.Endpoints.Length && !ct.IsCancellationRequested && DateTime.UtcNow < deadline && NeverConnected(ex))
            {
                // The connection to the member it picked was never made (TCP accepted, no TLS or HTTP/2
                // answer within the handshake time): nothing was sent, so any call, a write too, may go
                // to the next member; the round-robin picks another one.
                Log.Verbose($"etcd {operation}: a member accepted the connection but did not answer within {HandshakeTimeout.TotalSeconds:0} s; trying the next endpoint.");
            }
        }
    }

    /// <summary>The connect timeout fired: the call never reached a member.</summary>
    private static bool NeverConnected(Exception ex) =>
        FindInner<TimeoutException>(ex) is not null || (ex is K3dEtcdException k && FindInner<TimeoutException>(k.InnerException) is not null);

    private async Task<T> CallOnceAsync<T>(string operation, Func<CallOptions, AsyncUnaryCall<T>> call, CallOptions options, CancellationToken ct, object? target, TimeSpan? timeout)
    {
        try
        {
            return await call(options).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            ct.ThrowIfCancellationRequested();
            var mapped = Map(ex, operation, target);
            if (mapped.Kind is FailureKind.ConnectionError or FailureKind.SecurityError or FailureKind.OperationTimeout
                && Options.UsesTls && _clientCertificate is null && await ServerRequestsClientCertificateAsync(ct).ConfigureAwait(false) is { } endpoint)
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdClientCertificateRequired,
                    $"etcd {operation}: {endpoint} requires a client certificate (the cluster was made with client-certificate TLS) and none was given. " +
                    "Pass -CertFile and -KeyFile (New-EtcdClientCertificate makes a pair), or pass the cluster object (-Cluster), which carries its own client certificate.",
                    target ?? endpoint, mapped);
            }
            if (mapped.ErrorId == ErrorCatalog.EtcdTimeout.Id && await RefusedEverywhereAsync(ct).ConfigureAwait(false) is { } refused)
            {
                throw Unreachable(operation, refused, target, mapped);
            }
            throw mapped;
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            // grpc-dotnet can end a passed deadline with TaskCanceledException instead of
            // RpcException(DeadlineExceeded); nobody cancelled, so it is a timeout with an id.
            var timedOut = new K3dEtcdException(ErrorCatalog.EtcdTimeout,
                $"etcd {operation}: {string.Join(',', Options.Endpoints)} did not answer within {(timeout ?? Options.Timeout).TotalSeconds:0.#} s.{MayStillApply(operation)}", target ?? string.Join(',', Options.Endpoints), ex);
            if (await RefusedEverywhereAsync(ct).ConfigureAwait(false) is { } refused) throw Unreachable(operation, refused, target, timedOut);
            throw timedOut;
        }
    }

    /// <summary>
    /// A write that timed out may sit in the leader's log and be committed once a quorum is back
    /// (seen: a put refused for lack of quorum appeared after the members restarted). Say so.
    /// </summary>
    private static string MayStillApply(string operation) =>
        operation is "put" or "delete" or "lease grant"
            ? " The change was not acknowledged but may still be applied when the cluster recovers: etcd does not tell whether a timed-out write was committed."
            : "";

    private K3dEtcdException Unreachable(string operation, string reason, object? target, Exception inner) =>
        new(ErrorCatalog.EtcdUnreachable, $"etcd {operation}: no endpoint of {string.Join(',', Options.Endpoints)} accepted a connection ({reason}).", target ?? string.Join(',', Options.Endpoints), inner);

    /// <summary>
    /// After a call that ran into its deadline: gRPC retries a refused connection until the deadline
    /// and then says DeadlineExceeded. When no endpoint accepts a TCP connection at all, the honest
    /// answer is "unreachable" (with the socket's reason), not "did not answer in time".
    /// </summary>
    private async Task<string?> RefusedEverywhereAsync(CancellationToken ct)
    {
        var reasons = new List<string>();
        foreach (var endpoint in Options.Endpoints)
        {
            if (!EtcdConnectionOptions.TryParseEndpoint(endpoint, out var uri)) continue;
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(TimeSpan.FromSeconds(2));
                using var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port, deadline.Token).ConfigureAwait(false);
                return null; // something listens there: it was slow, not unreachable
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                reasons.Add($"{uri.Host}:{uri.Port}: {ex.Message}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return null; // no answer to the connect either: a timeout is the right word
            }
        }
        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>
    /// After a failed call over TLS without a client certificate: a handshake of our own, to learn
    /// whether the server asked for a certificate (Go's tls sends CertificateRequest in the
    /// handshake, TLS 1.2 and 1.3 alike). Returns the endpoint that asked, or null.
    /// </summary>
    private async Task<string?> ServerRequestsClientCertificateAsync(CancellationToken ct)
    {
        foreach (var endpoint in Options.Endpoints)
        {
            if (!EtcdConnectionOptions.TryParseEndpoint(endpoint, out var uri) || uri.Scheme != Uri.UriSchemeHttps) continue;
            var asked = false;
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(TimeSpan.FromSeconds(Math.Min(5, Options.Timeout.TotalSeconds)));
                using var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(uri.Host, uri.Port, deadline.Token).ConfigureAwait(false);
                using var ssl = new SslStream(tcp.GetStream(), false);
                var options = BuildSslOptions();
                options.TargetHost = uri.Host;
                options.LocalCertificateSelectionCallback = (_, _, _, _, _) => { asked = true; return null!; };
                await ssl.AuthenticateAsClientAsync(options, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or AuthenticationException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
                // Only the question matters: was a certificate requested before the failure?
            }
            if (asked) return endpoint;
        }
        return null;
    }

    /// <summary>GET of an HTTP path (e.g. /metrics) on one endpoint; HTTP failures map like gRPC ones.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetHttpAsync(string endpoint, string path, CancellationToken ct)
    {
        var url = endpoint.TrimEnd('/') + path;
        try
        {
            using var response = await Http.GetAsync(url, ct).ConfigureAwait(false);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdTimeout, $"GET {url} did not answer within {Options.Timeout.TotalSeconds:0.#} s.", endpoint, ex);
        }
        catch (HttpRequestException ex)
        {
            if (FindInner<AuthenticationException>(ex) is { } auth)
            {
                throw new K3dEtcdException(ErrorCatalog.EtcdTlsHandshakeFailed, $"TLS with {endpoint} failed: {auth.Message}", endpoint, ex);
            }
            throw new K3dEtcdException(ErrorCatalog.EtcdUnreachable, $"GET {url} failed: {ex.Message}", endpoint, ex);
        }
    }

    private void ConfigureChannel(Grpc.Net.Client.GrpcChannelOptions options)
    {
        // Big pages of keys (Get-EtcdKey) exceed gRPC's 4 MB default.
        options.MaxReceiveMessageSize = 64 * 1024 * 1024;
        if (_noRetry && options.ServiceConfig is { } config)
        {
            config.MethodConfigs.Clear();
            config.RetryThrottling = null;
        }
        if (options.HttpHandler is SocketsHttpHandler sockets)
        {
            // gRPC's round-robin counts a member ready once its TCP connect succeeds, and a frozen
            // member's kernel still accepts (seen: a paused member made one call in three wait out
            // its whole deadline). The connect timeout also bounds the TLS handshake: a member that
            // accepts but never answers fails the attempt as Unavailable, which the channel's retry
            // sends to the next member before the call's deadline.
            sockets.ConnectTimeout = Options.Timeout < HandshakeTimeout ? Options.Timeout : HandshakeTimeout;
            if (Options.UsesTls) sockets.SslOptions = BuildSslOptions();
        }
    }

    private void ConfigureSsl(SslClientAuthenticationOptions ssl)
    {
        var built = BuildSslOptions();
        ssl.ClientCertificates = built.ClientCertificates;
        ssl.RemoteCertificateValidationCallback = built.RemoteCertificateValidationCallback;
        ssl.EnabledSslProtocols = built.EnabledSslProtocols;
    }

    private SslClientAuthenticationOptions BuildSslOptions() => new()
    {
        ClientCertificates = _clientCertificate is null ? null : new X509CertificateCollection { _clientCertificate },
        RemoteCertificateValidationCallback = ValidateServerCertificate,
        EnabledSslProtocols = SslProtocols.None, // the OS default: TLS 1.2 and 1.3
    };

    /// <summary>
    /// Trusts the given CA (or the system store without one). gRPC's static resolver connects by
    /// address but names the channel host, so the name check is ours: the certificate must cover
    /// the host of one of our endpoints.
    /// </summary>
    private bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        using var cert = new X509Certificate2(certificate);
        if (_trustedRoots is not null)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_trustedRoots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (!custom.Build(cert)) return false;
        }
        else if ((errors & (SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0) return true;
        return Options.Endpoints.Any(e => EtcdConnectionOptions.TryParseEndpoint(e, out var u) && cert.MatchesHostname(u.Host));
    }

    public void Dispose()
    {
        List<EtcdConnection> children;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            children = [.. _perEndpoint.Values];
            _perEndpoint.Clear();
        }
        foreach (var c in children) c.Dispose();
        Client.Dispose();
        Http.Dispose();
    }
}
