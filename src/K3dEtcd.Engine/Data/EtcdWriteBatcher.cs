using K3dEtcd.Common;
using K3dEtcd.Model;

namespace K3dEtcd.Data;

/// <summary>The outcome of one write given to <see cref="EtcdWriteBatcher"/>, in the order the writes were given.</summary>
/// <param name="Key">The key (or prefix) written.</param>
/// <param name="Prefix">A delete of every key under <paramref name="Key"/>.</param>
/// <param name="Keys">A put: what the key now holds. A delete: the keys it removed (with their last values when asked for).</param>
/// <param name="Error">A per-write failure (a delete of a key that does not exist: EtcdKeyNotFound); null when it worked.</param>
public sealed record EtcdWriteResult(string Key, bool Prefix, IReadOnlyList<EtcdKeyValue> Keys, K3dEtcdException? Error);

/// <summary>
/// Set-EtcdKey's and Remove-EtcdKey's batching: writes piped one at a time go to etcd in
/// transactions of up to <see cref="EtcdKeyService.MaxTxnOps"/> (etcd's default --max-txn-ops), in
/// order. With a window (<c>maxInFlight</c> &gt; 0) that many transactions may be in flight while the
/// pipeline produces the next writes; etcd may apply concurrent transactions in any order, so a
/// batch that touches a key (or prefix) still in flight first waits for everything sent before it:
/// the last write of a key wins. A put of a key already pending closes the batch (etcd refuses a
/// transaction that puts one key twice). A change of connection sends and answers everything first.
/// Each call returns the results of the transactions answered meanwhile, oldest first. A failed
/// transaction throws the engine's error as it is (EtcdNoSpace names the cluster's
/// Optimize-EtcdCluster command when the connection knows its cluster).
/// </summary>
public sealed class EtcdWriteBatcher(int maxInFlight, bool returnDeletedValues = true) : IDisposable
{
    /// <summary>Set-EtcdKey's window: enough for the pipeline never to wait on etcd; each batch holds up to 128 values in memory.</summary>
    public const int DefaultMaxInFlight = 4;

    private readonly List<EtcdPut> _puts = new(EtcdKeyService.MaxTxnOps);
    private readonly List<EtcdKeyService.EtcdDelete> _deletes = new(EtcdKeyService.MaxTxnOps);
    private readonly HashSet<string> _pendingPutKeys = new(StringComparer.Ordinal);
    private EtcdConnection? _connection;
    private readonly Queue<(Task<IReadOnlyList<EtcdWriteResult>> Task, (string Key, bool Prefix)[] Writes)> _inFlight = new();
    private readonly Dictionary<string, int> _keysInFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _prefixesInFlight = new(StringComparer.Ordinal);
    // One lease per connection: a lease id exists only in the cluster that granted it.
    private readonly Dictionary<EtcdConnection, long> _ttlLeases = new(ReferenceEqualityComparer.Instance);

    /// <summary>Transactions sent and not answered yet.</summary>
    public int InFlight => _inFlight.Count;

    /// <summary>The lease -TtlSeconds attaches keys to: granted once per connection (cluster) and reused.</summary>
    public async Task<long> TtlLeaseAsync(EtcdConnection connection, int ttlSeconds, CancellationToken ct)
    {
        if (!_ttlLeases.TryGetValue(connection, out var lease))
        {
            lease = await new EtcdKeyService(connection).GrantLeaseAsync(ttlSeconds, ct).ConfigureAwait(false);
            _ttlLeases[connection] = lease;
        }
        return lease;
    }

    private static readonly Task<IReadOnlyList<EtcdWriteResult>> NothingAnswered = Task.FromResult<IReadOnlyList<EtcdWriteResult>>([]);

    public Task<IReadOnlyList<EtcdWriteResult>> PutAsync(EtcdConnection connection, EtcdPut put, CancellationToken ct)
    {
        // The common case of a piped key: it joins the pending batch, nothing is sent and nothing allocated.
        if (ReferenceEquals(_connection, connection) && _deletes.Count == 0 && _puts.Count + 1 < EtcdKeyService.MaxTxnOps && _pendingPutKeys.Add(put.Key))
        {
            _puts.Add(put);
            return NothingAnswered;
        }
        return PutSlowAsync(connection, put, ct);
    }

    private async Task<IReadOnlyList<EtcdWriteResult>> PutSlowAsync(EtcdConnection connection, EtcdPut put, CancellationToken ct)
    {
        var answered = new List<EtcdWriteResult>();
        await SwitchToAsync(connection, answered, ct).ConfigureAwait(false);
        if (_deletes.Count > 0 || _pendingPutKeys.Contains(put.Key)) await FlushAsync(answered, ct).ConfigureAwait(false);
        _puts.Add(put);
        _pendingPutKeys.Add(put.Key);
        if (_puts.Count >= EtcdKeyService.MaxTxnOps) await FlushAsync(answered, ct).ConfigureAwait(false);
        return answered;
    }

    public async Task<IReadOnlyList<EtcdWriteResult>> DeleteAsync(EtcdConnection connection, EtcdKeyService.EtcdDelete delete, CancellationToken ct)
    {
        var answered = new List<EtcdWriteResult>();
        await SwitchToAsync(connection, answered, ct).ConfigureAwait(false);
        if (_puts.Count > 0) await FlushAsync(answered, ct).ConfigureAwait(false);
        _deletes.Add(delete);
        if (_deletes.Count >= EtcdKeyService.MaxTxnOps) await FlushAsync(answered, ct).ConfigureAwait(false);
        return answered;
    }

    /// <summary>Sends what is pending and waits for every answer (the end of the pipeline).</summary>
    public async Task<IReadOnlyList<EtcdWriteResult>> CompleteAsync(CancellationToken ct)
    {
        var answered = new List<EtcdWriteResult>();
        await FlushAsync(answered, ct).ConfigureAwait(false);
        await DrainAsync(0, answered).ConfigureAwait(false);
        return answered;
    }

    private async Task SwitchToAsync(EtcdConnection connection, List<EtcdWriteResult> answered, CancellationToken ct)
    {
        if (_connection is not null && !ReferenceEquals(_connection, connection))
        {
            await FlushAsync(answered, ct).ConfigureAwait(false);
            await DrainAsync(0, answered).ConfigureAwait(false);
        }
        _connection = connection;
    }

    /// <summary>Sends the pending writes as one transaction; waits for older answers only as the window and the key order require.</summary>
    private async Task FlushAsync(List<EtcdWriteResult> answered, CancellationToken ct)
    {
        if (_connection is null || (_puts.Count == 0 && _deletes.Count == 0)) return;
        var service = new EtcdKeyService(_connection);
        Func<Task<IReadOnlyList<EtcdWriteResult>>> send;
        (string Key, bool Prefix)[] writes;
        if (_puts.Count > 0)
        {
            var batch = _puts.ToArray();
            writes = batch.Select(p => (p.Key, false)).ToArray();
            send = async () => (await service.PutBatchAsync(batch, ct).ConfigureAwait(false))
                .Select(kv => new EtcdWriteResult(kv.Key, false, [kv], null)).ToList();
        }
        else
        {
            var batch = _deletes.ToArray();
            writes = batch.Select(d => (d.Key, d.Prefix)).ToArray();
            var returnKeys = returnDeletedValues;
            send = async () =>
            {
                var removed = await service.DeleteBatchAsync(batch, returnKeys, ct).ConfigureAwait(false);
                return batch.Select((d, i) => new EtcdWriteResult(d.Key, d.Prefix, removed[i], removed[i].Count == 0 && !d.Prefix
                    ? new K3dEtcdException(ErrorCatalog.EtcdKeyNotFound, $"Key '{d.Key}' does not exist; nothing was removed.", d.Key)
                    : null)).ToList();
            };
        }
        _puts.Clear();
        _deletes.Clear();
        _pendingPutKeys.Clear();

        if (writes.Any(w => Overlaps(w.Key, w.Prefix))) await DrainAsync(0, answered).ConfigureAwait(false);
        await DrainAsync(Math.Max(0, maxInFlight - 1), answered).ConfigureAwait(false);
        foreach (var (key, prefix) in writes) Count(prefix ? _prefixesInFlight : _keysInFlight, key, +1);
        // Off the caller's context: the transaction runs on while the pipeline produces the next writes.
        _inFlight.Enqueue((Task.Run(send, ct), writes));
        await DrainAsync(maxInFlight, answered).ConfigureAwait(false);
    }

    /// <summary>Whether a write touches a key (or prefix) of a transaction in flight.</summary>
    private bool Overlaps(string key, bool prefix)
    {
        if (_keysInFlight.Count == 0 && _prefixesInFlight.Count == 0) return false;
        if (!prefix && _keysInFlight.ContainsKey(key)) return true;
        if (_prefixesInFlight.Keys.Any(p => key.StartsWith(p, StringComparison.Ordinal) || (prefix && p.StartsWith(key, StringComparison.Ordinal)))) return true;
        return prefix && _keysInFlight.Keys.Any(k => k.StartsWith(key, StringComparison.Ordinal));
    }

    private static void Count(Dictionary<string, int> counts, string key, int delta)
    {
        var n = counts.GetValueOrDefault(key) + delta;
        if (n == 0) counts.Remove(key);
        else counts[key] = n;
    }

    /// <summary>Waits for the oldest transactions until at most <paramref name="keep"/> are in flight, collecting their results in order.</summary>
    private async Task DrainAsync(int keep, List<EtcdWriteResult> answered)
    {
        while (_inFlight.Count > keep)
        {
            var (task, writes) = _inFlight.Dequeue();
            foreach (var (key, prefix) in writes) Count(prefix ? _prefixesInFlight : _keysInFlight, key, -1);
            answered.AddRange(await task.ConfigureAwait(false));
        }
    }

    /// <summary>A failure or Ctrl+C can leave transactions in flight: let them end before the connection closes.</summary>
    public void Dispose()
    {
        if (_inFlight.Count == 0) return;
        try { Task.WaitAll(_inFlight.Select(f => (Task)f.Task).ToArray()); }
        catch (AggregateException) { }
        _inFlight.Clear();
    }
}
