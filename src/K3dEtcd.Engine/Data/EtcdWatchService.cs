using System.Text;
using System.Threading.Channels;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Data;

/// <summary>What Watch-EtcdKey watches.</summary>
public sealed class EtcdWatchRequest
{
    public string Key { get; init; } = "";
    public bool Prefix { get; init; }
    /// <summary>Replay history from this revision on; 0 watches from now.</summary>
    public long StartRevision { get; init; }
    /// <summary>Every key in the keyspace (Key and Prefix are ignored); the etcd browser's feed.</summary>
    public bool AllKeys { get; init; }
}

/// <summary>
/// Watches over the v3 Watch stream. When the stream breaks (a member restarts, the network
/// blips) it opens a new one from the revision after the last event delivered, so no event is
/// lost or repeated; the channel's round-robin picks a live member.
/// </summary>
public sealed class EtcdWatchService(EtcdConnection connection)
{
    private volatile bool _connected;

    /// <summary>Whether etcd ever confirmed the watch (a window that ends before that has watched nothing).</summary>
    public bool Connected => _connected;

    /// <summary>Writes events to <paramref name="writer"/> until cancelled; completes the writer with any terminal failure.</summary>
    public async Task WatchAsync(EtcdWatchRequest request, ChannelWriter<EtcdWatchEvent> writer, CancellationToken ct)
    {
        Exception? failure = null;
        try
        {
            await WatchCoreAsync(request, writer, ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Every failure leaves with an ErrorId: a stray RpcException or an unrequested cancellation too.
            failure = ex switch
            {
                // The caller ended the watch (its window or Ctrl+C): a cancellation, never a raw RpcException
                // (the cmdlet rethrew that one as an error without an ErrorId when -TimeoutSeconds ran out).
                RpcException { StatusCode: StatusCode.Cancelled } when ct.IsCancellationRequested => new OperationCanceledException("The watch was ended by its caller.", ex, ct),
                RpcException rpc when !ct.IsCancellationRequested => connection.Map(rpc, "watch", request.Key),
                OperationCanceledException when !ct.IsCancellationRequested => new K3dEtcdException(ErrorCatalog.EtcdTimeout,
                    $"etcd watch: {string.Join(',', connection.Endpoints)} did not answer in time.", request.Key, ex),
                _ => ex,
            };
        }
        finally
        {
            writer.TryComplete(failure);
        }
    }

    private async Task WatchCoreAsync(EtcdWatchRequest request, ChannelWriter<EtcdWatchEvent> writer, CancellationToken ct)
    {
        if (!request.AllKeys) EtcdKeyService.ValidateKey(request.Key);
        if (request.StartRevision < 0)
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdRevisionInvalid, $"The start revision must be 0 (now) or more, not {request.StartRevision}.", request.StartRevision);
        }
        // etcd's "all keys": key "\0" with range end "\0".
        byte[] key = request.AllKeys ? [0] : Encoding.UTF8.GetBytes(request.Key);
        byte[] rangeEnd = request.AllKeys ? [0] : request.Prefix ? EtcdKeyService.PrefixEnd(key) : [];
        var next = request.StartRevision;
        var everConnected = false;
        var firstAttempt = DateTime.UtcNow;
        var attempt = 0;
        var log = connection.Log;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                using var call = connection.Grpc.WatchClient.Watch(new CallOptions(cancellationToken: ct));
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = ByteString.CopyFrom(key),
                        RangeEnd = ByteString.CopyFrom(rangeEnd),
                        StartRevision = next,
                        PrevKv = true,
                        ProgressNotify = true,
                    },
                }, ct).ConfigureAwait(false);
                log.Verbose($"etcd: watch {(request.Prefix ? "prefix " : "")}{request.Key}{(next > 0 ? $" from revision {next}" : "")}.");
                while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
                {
                    var response = call.ResponseStream.Current;
                    if (response.Created)
                    {
                        everConnected = true;
                        _connected = true;
                        attempt = 0;
                        // Watching "from now": events after the revision the watch was created at.
                        if (next == 0) next = response.Header.Revision + 1;
                    }
                    if (response.CompactRevision > 0)
                    {
                        throw new K3dEtcdException(ErrorCatalog.EtcdWatchCompacted,
                            $"Revision {next} has been compacted (oldest available: {response.CompactRevision}); start the watch at {response.CompactRevision} or later.", next);
                    }
                    if (response.Canceled)
                    {
                        throw new K3dEtcdException(ErrorCatalog.EtcdWatchCanceled,
                            $"etcd cancelled the watch: {(string.IsNullOrEmpty(response.CancelReason) ? "no reason given" : response.CancelReason)}.", request.Key);
                    }
                    foreach (var ev in response.Events)
                    {
                        await writer.WriteAsync(ToEvent(ev), ct).ConfigureAwait(false);
                        next = ev.Kv.ModRevision + 1;
                    }
                    // A progress notification (no events) means everything up to its revision was delivered.
                    if (response.Events.Count == 0 && !response.Created && response.Header.Revision + 1 > next) next = response.Header.Revision + 1;
                }
                log.Warning($"etcd: the watch stream was closed by the server; resuming from revision {next}.");
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested && ex.StatusCode is not (StatusCode.PermissionDenied or StatusCode.Unauthenticated or StatusCode.InvalidArgument or StatusCode.Unimplemented))
            {
                if (!everConnected && DateTime.UtcNow - firstAttempt > connection.Options.Timeout)
                {
                    throw connection.Map(ex, "watch", request.Key);
                }
                if (everConnected) log.Warning($"etcd: the watch was interrupted ({ex.StatusCode}); resuming from revision {next}.");
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested)
            {
                throw connection.Map(ex, "watch", request.Key);
            }
            attempt++;
            connection.Log.Progress(new OperationProgress("Watching etcd", $"reconnecting (attempt {attempt}), next revision {next}", -1, ActivityId: 7));
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * Math.Pow(2, Math.Min(attempt, 5)))), ct).ConfigureAwait(false);
        }
    }

    private static EtcdWatchEvent ToEvent(Mvccpb.Event ev)
    {
        var isDelete = ev.Type == Mvccpb.Event.Types.EventType.Delete;
        return new EtcdWatchEvent
        {
            Type = isDelete ? EtcdWatchEventType.Delete : EtcdWatchEventType.Put,
            Key = ev.Kv.Key.ToStringUtf8(),
            Value = isDelete ? null : EtcdKeyService.TextOf(ev.Kv.Value.Span, out _),
            PreviousValue = ev.PrevKv is null ? null : EtcdKeyService.TextOf(ev.PrevKv.Value.Span, out _),
            ModRevision = ev.Kv.ModRevision,
            CreateRevision = ev.Kv.CreateRevision,
            Version = ev.Kv.Version,
            Received = DateTime.UtcNow,
        };
    }
}
