using Grpc.Core;
using K3dEtcd.Common;

namespace K3dEtcd.Data;

/// <summary>
/// grpc-dotnet's retrying calls sometimes end a passed deadline with a TaskCanceledException
/// instead of RpcException(DeadlineExceeded); without this it would reach the user as a bare
/// "The operation was canceled." although nobody cancelled.
/// </summary>
internal static class EtcdCallGuard
{
    public static async Task<T> CallAsync<T>(this EtcdConnection connection, string operation, Func<CallOptions, AsyncUnaryCall<T>> call,
        CancellationToken ct, object? target, TimeSpan? timeout, bool mapDeadline)
    {
        try
        {
            return await connection.CallAsync(operation, call, ct, target, timeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (mapDeadline && !ct.IsCancellationRequested)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdTimeout,
                $"etcd {operation}: {string.Join(',', connection.Endpoints)} did not answer within {(timeout ?? connection.Options.Timeout).TotalSeconds:0.#} s.", target, ex);
        }
    }
}
