using System.Net.Http;
using System.Security.Authentication;
using Grpc.Core;
using K3dEtcd.Common;

namespace K3dEtcd.Data;

/// <summary>How a failed gRPC call of <see cref="EtcdConnection"/> becomes an error with a stable id.</summary>
public sealed partial class EtcdConnection
{
    /// <summary>Maps a gRPC status to our error ids and categories.</summary>
    public K3dEtcdException Map(RpcException ex, string operation, object? target)
    {
        var where = string.Join(',', Options.Endpoints);
        var detail = string.IsNullOrWhiteSpace(ex.Status.Detail) ? ex.StatusCode.ToString() : ex.Status.Detail;
        if (FindInner<AuthenticationException>(ex) is { } auth)
        {
            return new K3dEtcdException(ErrorCatalog.EtcdTlsHandshakeFailed,
                $"etcd {operation}: TLS with {where} failed ({auth.Message}). Check -CaFile, -CertFile and -KeyFile.", target ?? where, ex);
        }
        // etcd reports a missing user or a failed login as InvalidArgument, not as an auth status.
        var authFailure = ex.StatusCode == StatusCode.InvalidArgument
            && (detail.Contains("user name is empty", StringComparison.Ordinal) || detail.Contains("authentication failed", StringComparison.Ordinal));
        if (authFailure)
        {
            return new K3dEtcdException(ErrorCatalog.EtcdAccessDenied,
                $"etcd {operation}: access denied ({detail}). Check -Credential or the client certificate.", target, ex);
        }
        // The transport broke under the call (reset, EOF, a TLS alert after the handshake): gRPC
        // reports Internal or Unknown, but the cause is the connection, not etcd's answer. A TLS 1.3
        // server that refuses the client certificate does exactly this.
        if (ex.StatusCode is StatusCode.Internal or StatusCode.Unknown
            && (FindInner<IOException>(ex) ?? FindInner<HttpRequestException>(ex) ?? (Exception?)FindInner<System.Net.Sockets.SocketException>(ex)) is { } transport)
        {
            return new K3dEtcdException(ErrorCatalog.EtcdConnectionBroken,
                $"etcd {operation}: the connection to {where} broke ({transport.Message}).{(Options.UsesTls ? " With client-certificate TLS, check -CertFile and -KeyFile: etcd drops clients it does not accept." : "")}",
                target ?? where, ex);
        }
        // etcd refuses a request over --max-request-bytes (1.5 MiB by default) with "request is too
        // large"; gRPC's own receive limit (the same plus overhead) answers ResourceExhausted.
        if (detail.Contains("request is too large", StringComparison.OrdinalIgnoreCase)
            || (ex.StatusCode == StatusCode.ResourceExhausted && detail.Contains("larger than max", StringComparison.OrdinalIgnoreCase)))
        {
            return new K3dEtcdException(ErrorCatalog.EtcdRequestTooLarge,
                $"etcd {operation}: the request is larger than etcd accepts ({detail}). etcd's limit is --max-request-bytes, 1.5 MiB by default: " +
                "store a smaller value, or split the batch.", target, ex);
        }
        // Over --quota-backend-bytes etcd raises NOSPACE and refuses writes until space is freed and the alarm disarmed.
        if (detail.Contains("database space exceeded", StringComparison.Ordinal))
        {
            return new K3dEtcdException(ErrorCatalog.EtcdNoSpace,
                $"etcd {operation}: the database is over its space quota (etcd raised the NOSPACE alarm: {detail}) and refuses writes. " +
                $"Run {NoSpaceCommand(Options)} (compaction, defragmentation of every member, NOSPACE alarm cleared), then write again.", target ?? where, ex);
        }
        return ex.StatusCode switch
        {
            StatusCode.NotFound => new K3dEtcdException(ErrorCatalog.EtcdNotFound, $"etcd {operation}: {detail}", target, ex),
            StatusCode.Unavailable => new K3dEtcdException(ErrorCatalog.EtcdUnreachable,
                $"etcd {operation}: no endpoint of {where} answered ({WithSocketReason(detail, ex)}).", target ?? where, ex),
            StatusCode.DeadlineExceeded => new K3dEtcdException(ErrorCatalog.EtcdTimeout,
                $"etcd {operation}: {where} did not answer within {Options.Timeout.TotalSeconds:0.#} s.{MayStillApply(operation)}", target ?? where, ex),
            StatusCode.PermissionDenied or StatusCode.Unauthenticated => new K3dEtcdException(ErrorCatalog.EtcdAccessDenied,
                $"etcd {operation}: access denied ({detail}). Check -Credential or the client certificate.", target, ex),
            StatusCode.InvalidArgument or StatusCode.OutOfRange => new K3dEtcdException(ErrorCatalog.EtcdRequestInvalid,
                $"etcd {operation}: {detail}", target, ex),
            StatusCode.FailedPrecondition => new K3dEtcdException(ErrorCatalog.EtcdRequestRejected,
                $"etcd {operation}: {detail}", target, ex),
            StatusCode.Unimplemented => new K3dEtcdException(ErrorCatalog.EtcdNotImplemented,
                $"etcd {operation} is not supported by this etcd version ({detail}).", target, ex),
            _ => new K3dEtcdException(ErrorCatalog.EtcdOperationFailed, $"etcd {operation} failed: {ex.StatusCode} {detail}", target, ex),
        };
    }

    /// <summary>
    /// gRPC sometimes gives up on a refused connection before the deadline with only "Error
    /// connecting to subchannel."; the socket's own reason (connection refused, no route) is in
    /// the status's debug exception, and it is what the user needs.
    /// </summary>
    private static string WithSocketReason(string detail, RpcException ex) =>
        FindInner<System.Net.Sockets.SocketException>(ex) is { } socket && !detail.Contains(socket.Message, StringComparison.OrdinalIgnoreCase)
            ? $"{detail.TrimEnd('.')}: {socket.Message}"
            : detail;

    private static T? FindInner<T>(Exception? ex) where T : Exception
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is T t) return t;
            if (e is RpcException rpc && rpc.Status.DebugException is { } debug && FindInner<T>(debug) is { } found) return found;
        }
        return null;
    }

    /// <summary>
    /// The command that gets the cluster out of NOSPACE. With one or two members, defragmenting one
    /// leaves no quorum (DefragmentationWouldBreakQuorum) unless -Force accepts the pause.
    /// </summary>
    private static string NoSpaceCommand(EtcdConnectionOptions options) => options.ClusterName is not { } name
        ? "Optimize-EtcdCluster on the cluster"
        : options.ClusterSize is { } size && size - 1 < size / 2 + 1
            ? $"'Optimize-EtcdCluster -Cluster {name} -Force' (with {size} member(s) each defragmentation pauses the cluster, which -Force accepts)"
            : $"'Optimize-EtcdCluster -Cluster {name}'";
}
