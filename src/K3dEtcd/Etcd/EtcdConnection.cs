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

namespace K3dEtcd.Etcd;

/// <summary>
/// One open connection to an etcd cluster: a dotnet-etcd client over every endpoint (round-robin
/// with fail-over, so one member down stops nothing) and an HttpClient with the same TLS for the
/// HTTP-only surfaces (/health, /metrics, /v2/stats). Every gRPC failure leaves here as a
/// K3dEtcdException with a stable id.
/// </summary>
public sealed class EtcdConnection : IDisposable
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
                throw new K3dEtcdException("EtcdCaFileInvalid", FailureKind.InvalidArgument,
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
                throw new K3dEtcdException("EtcdClientCertificateInvalid", FailureKind.InvalidArgument,
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
        try
        {
            return await call(CallOptions(ct, timeout)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            ct.ThrowIfCancellationRequested();
            throw Map(ex, operation, target);
        }
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
            throw new K3dEtcdException("EtcdTimeout", FailureKind.OperationTimeout, $"GET {url} did not answer within {Options.Timeout.TotalSeconds:0.#} s.", endpoint, ex);
        }
        catch (HttpRequestException ex)
        {
            if (FindInner<AuthenticationException>(ex) is { } auth)
            {
                throw new K3dEtcdException("EtcdTlsHandshakeFailed", FailureKind.SecurityError, $"TLS with {endpoint} failed: {auth.Message}", endpoint, ex);
            }
            throw new K3dEtcdException("EtcdUnreachable", FailureKind.ConnectionError, $"GET {url} failed: {ex.Message}", endpoint, ex);
        }
    }

    /// <summary>Maps a gRPC status to our error ids and categories.</summary>
    public K3dEtcdException Map(RpcException ex, string operation, object? target)
    {
        var where = string.Join(',', Options.Endpoints);
        var detail = string.IsNullOrWhiteSpace(ex.Status.Detail) ? ex.StatusCode.ToString() : ex.Status.Detail;
        if (FindInner<AuthenticationException>(ex) is { } auth)
        {
            return new K3dEtcdException("EtcdTlsHandshakeFailed", FailureKind.SecurityError,
                $"etcd {operation}: TLS with {where} failed ({auth.Message}). Check -CaFile, -CertFile and -KeyFile.", target ?? where, ex);
        }
        // etcd reports a missing user or a failed login as InvalidArgument, not as an auth status.
        var authFailure = ex.StatusCode == StatusCode.InvalidArgument
            && (detail.Contains("user name is empty", StringComparison.Ordinal) || detail.Contains("authentication failed", StringComparison.Ordinal));
        if (authFailure)
        {
            return new K3dEtcdException("EtcdAccessDenied", FailureKind.SecurityError,
                $"etcd {operation}: access denied ({detail}). Check -Credential or the client certificate.", target, ex);
        }
        // The transport broke under the call (reset, EOF, a TLS alert after the handshake): gRPC
        // reports Internal or Unknown, but the cause is the connection, not etcd's answer. A TLS 1.3
        // server that refuses the client certificate does exactly this.
        if (ex.StatusCode is StatusCode.Internal or StatusCode.Unknown
            && (FindInner<IOException>(ex) ?? FindInner<HttpRequestException>(ex) ?? (Exception?)FindInner<System.Net.Sockets.SocketException>(ex)) is { } transport)
        {
            return new K3dEtcdException("EtcdConnectionBroken", FailureKind.ConnectionError,
                $"etcd {operation}: the connection to {where} broke ({transport.Message}).{(Options.UsesTls ? " With client-certificate TLS, check -CertFile and -KeyFile: etcd drops clients it does not accept." : "")}",
                target ?? where, ex);
        }
        // Over --quota-backend-bytes etcd raises NOSPACE and refuses writes until space is freed and the alarm disarmed.
        if (detail.Contains("database space exceeded", StringComparison.Ordinal))
        {
            return new K3dEtcdException("EtcdNoSpace", FailureKind.QuotaExceeded,
                $"etcd {operation}: the database is over its space quota (etcd raised the NOSPACE alarm: {detail}) and refuses writes. " +
                "Run Optimize-EtcdCluster on the cluster (compaction, defragmentation of every member, NOSPACE alarm cleared), then write again.", target ?? where, ex);
        }
        return ex.StatusCode switch
        {
            StatusCode.NotFound => new K3dEtcdException("EtcdNotFound", FailureKind.ObjectNotFound, $"etcd {operation}: {detail}", target, ex),
            StatusCode.Unavailable => new K3dEtcdException("EtcdUnreachable", FailureKind.ConnectionError,
                $"etcd {operation}: no endpoint of {where} answered ({detail}).", target ?? where, ex),
            StatusCode.DeadlineExceeded => new K3dEtcdException("EtcdTimeout", FailureKind.OperationTimeout,
                $"etcd {operation}: {where} did not answer within {Options.Timeout.TotalSeconds:0.#} s.", target ?? where, ex),
            StatusCode.PermissionDenied or StatusCode.Unauthenticated => new K3dEtcdException("EtcdAccessDenied", FailureKind.SecurityError,
                $"etcd {operation}: access denied ({detail}). Check -Credential or the client certificate.", target, ex),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => new K3dEtcdException("EtcdRequestInvalid", FailureKind.InvalidArgument,
                $"etcd {operation}: {detail}", target, ex),
            StatusCode.FailedPrecondition => new K3dEtcdException("EtcdRequestRejected", FailureKind.InvalidOperation,
                $"etcd {operation}: {detail}", target, ex),
            StatusCode.Unimplemented => new K3dEtcdException("EtcdNotImplemented", FailureKind.NotImplemented,
                $"etcd {operation} is not supported by this etcd version ({detail}).", target, ex),
            _ => new K3dEtcdException("EtcdOperationFailed", FailureKind.InvalidResult, $"etcd {operation} failed: {ex.StatusCode} {detail}", target, ex),
        };
    }

    private static T? FindInner<T>(Exception? ex) where T : Exception
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is T t) return t;
            if (e is RpcException rpc && rpc.Status.DebugException is { } debug && FindInner<T>(debug) is { } found) return found;
        }
        return null;
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
            sockets.ConnectTimeout = Options.Timeout;
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
