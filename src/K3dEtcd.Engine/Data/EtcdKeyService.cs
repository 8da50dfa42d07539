using System.Runtime.CompilerServices;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using K3dEtcd.Common;
using K3dEtcd.Model;
using Mvccpb;

namespace K3dEtcd.Data;

/// <summary>Which keys Get-EtcdKey reads.</summary>
public sealed class EtcdKeyQuery
{
    /// <summary>The key, or the prefix with <see cref="Prefix"/>; null reads every key.</summary>
    public string? Key { get; init; }
    public bool Prefix { get; init; }
    /// <summary>Every key from <see cref="Key"/> on, in byte order.</summary>
    public bool FromKey { get; init; }
    /// <summary>Read the keyspace as it was at this revision; 0 for now.</summary>
    public long Revision { get; init; }
    /// <summary>At most this many keys; 0 for no limit.</summary>
    public long Limit { get; init; }
    public bool KeysOnly { get; init; }
    public bool AsByteArray { get; init; }
    /// <summary>Keys in the first range request; later pages are sized by bytes (see <see cref="EtcdKeyService.MaxPageBytes"/>).</summary>
    public int PageSize { get; init; } = EtcdKeyService.DefaultPageSize;
}

/// <summary>One write for <see cref="EtcdKeyService.PutBatchAsync"/>.</summary>
public readonly record struct EtcdPut(string Key, byte[] Value, long Lease = 0);

/// <summary>Keys and values over the v3 KV API: paged reads, batched writes, deletes.</summary>
public sealed class EtcdKeyService(EtcdConnection connection)
{
    public const int DefaultPageSize = 1000;
    /// <summary>Upper bound of one page's keys.</summary>
    public const int MaxPageSize = 100_000;
    /// <summary>
    /// Pages after the first hold about this many bytes. etcd walks the whole rest of the range for
    /// every limited request (to count it), so each page costs a walk of everything after it: a
    /// small first page gets objects out at once, then few big ones keep a read near one unlimited
    /// request (measured on 100k keys: 1k-then-32k pages about as fast as one request, doubling from
    /// 1k to 16k 1.5x as slow; 8 MB pages were no faster and peaked 20-40 MB higher) while memory
    /// stays bounded by two pages. 2 MB rather than 4: the pooled page buffers (ours and gRPC's) stay
    /// in the process, and a session reading 100k keys peaked 153-166 MiB instead of 169-200 MiB
    /// (10-12 % above a 10k session instead of 18-48 %), for about 10 % more time (bench/RESULTS.md).
    /// </summary>
    public const int MaxPageBytes = 2 * 1024 * 1024;
    /// <summary>etcd's default --max-txn-ops.</summary>
    public const int MaxTxnOps = 128;

    private IOperationLog Log => connection.Log;

    public static void ValidateKey(string? key, string what = "key")
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new K3dEtcdException(ErrorCatalog.EtcdKeyEmpty, $"The {what} must not be empty; etcd keys are at least one byte.", key);
        }
    }

    public static void ValidateQuery(EtcdKeyQuery q)
    {
        if (q.Key is not null) ValidateKey(q.Key);
        if (q.Limit < 0) throw new K3dEtcdException(ErrorCatalog.EtcdLimitInvalid, $"The limit must be 0 (no limit) or more, not {q.Limit}.", q.Limit);
        if (q.Revision < 0) throw new K3dEtcdException(ErrorCatalog.EtcdRevisionInvalid, $"The revision must be 0 (now) or more, not {q.Revision}.", q.Revision);
        if (q.Prefix && q.FromKey) throw new K3dEtcdException(ErrorCatalog.EtcdRangeConflict, "-Prefix and -FromKey cannot be used together.");
        if (q.PageSize <= 0) throw new K3dEtcdException(ErrorCatalog.EtcdPageSizeInvalid, "The page size must be positive.", q.PageSize);
    }

    /// <summary>The first key after every key that starts with <paramref name="prefix"/> ("\0" = to the end).</summary>
    public static byte[] PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        var end = prefix.ToArray();
        for (var i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }
        return [0];
    }

    private static (ByteString Key, ByteString RangeEnd) RangeOf(EtcdKeyQuery q)
    {
        if (q.Key is null) return (ByteString.CopyFrom(0), ByteString.CopyFrom(0));
        var key = Encoding.UTF8.GetBytes(q.Key);
        if (q.Prefix) return (ByteString.CopyFrom(key), ByteString.CopyFrom(PrefixEnd(key)));
        if (q.FromKey) return (ByteString.CopyFrom(key), ByteString.CopyFrom(0));
        return (ByteString.CopyFrom(key), ByteString.Empty);
    }

    /// <summary>
    /// Streams the range page by page at one revision (a consistent snapshot), fetching the next
    /// page while the caller consumes the current one, so memory stays one or two pages.
    /// </summary>
    public async IAsyncEnumerable<EtcdKeyValue> GetAsync(EtcdKeyQuery q, [EnumeratorCancellation] CancellationToken ct)
    {
        ValidateQuery(q);
        var (key, rangeEnd) = RangeOf(q);
        var single = rangeEnd.IsEmpty;
        long revision = q.Revision, returned = 0;
        var pages = 0;
        var pageSize = single ? 1 : q.PageSize;
        Log.Verbose($"etcd: range {Describe(q)}, first page {pageSize} keys, then pages of about {MaxPageBytes / (1024 * 1024)} MB.");
        Task<EtcdRangePage>? pending = RangePageAsync(key, rangeEnd, PageLimit(q, returned, pageSize), revision, q.KeysOnly, ct);
        try
        {
            while (pending is not null)
            {
                using var page = await pending.ConfigureAwait(false);
                if (pages++ == 0) Log.Phase($"first page: {page.KeyCount} keys at revision {page.Revision}");
                if (revision == 0) revision = page.Revision;
                pending = null;
                var count = page.KeyCount;
                var more = page.More && count > 0 && !single;
                if (q.Limit > 0 && returned + count >= q.Limit) more = false;
                if (more)
                {
                    pageSize = NextPageSize(page.ByteLength, count);
                    // Continue right after the last key of this page; fetch it while the caller consumes this one.
                    var last = page[count - 1].Key;
                    var next = new byte[last.Length + 1];
                    last.CopyTo(next);
                    pending = RangePageAsync(UnsafeByteOperations.UnsafeWrap(next), rangeEnd, PageLimit(q, returned + count, pageSize), revision, q.KeysOnly, ct);
                }
                for (var i = 0; i < count; i++)
                {
                    if (q.Limit > 0 && returned >= q.Limit) yield break;
                    returned++;
                    yield return ToKeyValue(page[i], q.KeysOnly, q.AsByteArray);
                }
            }
        }
        finally
        {
            // Stopped early (Ctrl+C, -Limit, Select-Object -First): the prefetched page goes back to the pool too.
            if (pending is not null)
            {
                _ = pending.ContinueWith(t =>
                {
                    if (t.IsCompletedSuccessfully) t.Result.Dispose();
                    else _ = t.Exception;   // observed: nobody waits for this page any more
                }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Keys that fit <see cref="MaxPageBytes"/> at the bytes per key of the page just read.</summary>
    internal static int NextPageSize(long pageBytes, int pageKeys)
    {
        var perKey = Math.Max(1, pageBytes / Math.Max(1, pageKeys));
        return (int)Math.Clamp(MaxPageBytes / perKey, 1, MaxPageSize);
    }

    private static long PageLimit(EtcdKeyQuery q, long returned, int pageSize) =>
        q.Limit > 0 ? Math.Min(pageSize, q.Limit - returned) : pageSize;

    /// <summary>
    /// One page. Pages after the first read the first page's revision, which is already fixed, so
    /// they skip the leader round trip of a linearizable read (serializable); a member that has not
    /// applied that revision yet answers "future revision", and that page is asked linearizably.
    /// </summary>
    private async Task<EtcdRangePage> RangePageAsync(ByteString key, ByteString rangeEnd, long limit, long revision, bool keysOnly, CancellationToken ct)
    {
        var request = new RangeRequest { Key = key, RangeEnd = rangeEnd, Limit = limit, Revision = revision, KeysOnly = keysOnly, Serializable = revision > 0 };
        var kv = connection.Grpc.KVClient;
        try
        {
            return await connection.CallAsync("range", o => EtcdRangePage.RangeAsync(kv, request, o), ct, key.ToStringUtf8()).ConfigureAwait(false);
        }
        catch (K3dEtcdException ex) when (request.Serializable && ex.InnerException is Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.OutOfRange })
        {
            request.Serializable = false;
            return await connection.CallAsync("range", o => EtcdRangePage.RangeAsync(kv, request, o), ct, key.ToStringUtf8()).ConfigureAwait(false);
        }
    }

    /// <summary>How many keys the query matches (etcd counts server-side).</summary>
    public async Task<long> CountAsync(EtcdKeyQuery q, CancellationToken ct)
    {
        ValidateQuery(q);
        var (key, rangeEnd) = RangeOf(q);
        Log.Verbose($"etcd: count {Describe(q)}.");
        var response = await connection.CallAsync("count", o => connection.Grpc.KVClient.RangeAsync(new RangeRequest
        {
            Key = key, RangeEnd = rangeEnd, CountOnly = true, Revision = q.Revision,
        }, o), ct, q.Key).ConfigureAwait(false);
        return q.Limit > 0 ? Math.Min(response.Count, q.Limit) : response.Count;
    }

    /// <summary>
    /// Writes the puts in order, <see cref="MaxTxnOps"/> per transaction; returns what each key
    /// now holds (revisions from the response and the previous value).
    /// </summary>
    public async Task<IReadOnlyList<EtcdKeyValue>> PutBatchAsync(IReadOnlyList<EtcdPut> puts, CancellationToken ct)
    {
        var results = new List<EtcdKeyValue>(puts.Count);
        for (var start = 0; start < puts.Count; start += MaxTxnOps)
        {
            var count = Math.Min(MaxTxnOps, puts.Count - start);
            var txn = new TxnRequest();
            for (var i = start; i < start + count; i++)
            {
                var p = puts[i];
                ValidateKey(p.Key);
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(p.Key), Value = ByteString.CopyFrom(p.Value), Lease = p.Lease, PrevKv = true } });
            }
            Log.Verbose(count == 1 ? $"etcd: put {puts[start].Key}." : $"etcd: transaction of {count} puts ({puts[start].Key} .. {puts[start + count - 1].Key}).");
            var response = await connection.CallAsync("put", o => connection.Grpc.KVClient.TxnAsync(txn, o), ct, puts[start].Key).ConfigureAwait(false);
            var revision = response.Header.Revision;
            for (var i = 0; i < count; i++)
            {
                var p = puts[start + i];
                var prev = response.Responses[i].ResponsePut?.PrevKv;
                results.Add(new EtcdKeyValue
                {
                    Key = p.Key,
                    Value = TextOf(p.Value, out var binary),
                    IsBinary = binary,
                    ByteLength = p.Value.Length,
                    // One transaction is one revision for all its keys.
                    ModRevision = revision,
                    CreateRevision = prev is null ? revision : prev.CreateRevision,
                    Version = prev is null ? 1 : prev.Version + 1,
                    Lease = p.Lease,
                });
            }
        }
        return results;
    }

    /// <summary>A lease with the given TTL, for -TtlSeconds.</summary>
    public async Task<long> GrantLeaseAsync(int ttlSeconds, CancellationToken ct)
    {
        if (ttlSeconds <= 0) throw new K3dEtcdException(ErrorCatalog.EtcdTtlInvalid, "The TTL must be at least one second.", ttlSeconds);
        var response = await connection.CallAsync("lease grant", o => connection.Grpc.LeaseClient.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, o), ct).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error)) throw new K3dEtcdException(ErrorCatalog.EtcdLeaseFailed, $"etcd refused the lease: {response.Error}");
        Log.Verbose($"etcd: granted lease {response.ID:x} with a TTL of {response.TTL} s.");
        return response.ID;
    }

    /// <summary>One delete: a key, or every key under a prefix.</summary>
    public readonly record struct EtcdDelete(string Key, bool Prefix);

    /// <summary>
    /// Deletes in order, <see cref="MaxTxnOps"/> per transaction; returns per delete the keys
    /// it removed (with their last values).
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<EtcdKeyValue>>> DeleteBatchAsync(IReadOnlyList<EtcdDelete> deletes, bool returnKeys, CancellationToken ct)
    {
        var results = new List<IReadOnlyList<EtcdKeyValue>>(deletes.Count);
        for (var start = 0; start < deletes.Count; start += MaxTxnOps)
        {
            var count = Math.Min(MaxTxnOps, deletes.Count - start);
            var txn = new TxnRequest();
            for (var i = start; i < start + count; i++)
            {
                var d = deletes[i];
                ValidateKey(d.Key);
                var key = Encoding.UTF8.GetBytes(d.Key);
                txn.Success.Add(new RequestOp
                {
                    RequestDeleteRange = new DeleteRangeRequest
                    {
                        Key = ByteString.CopyFrom(key),
                        RangeEnd = d.Prefix ? ByteString.CopyFrom(PrefixEnd(key)) : ByteString.Empty,
                        PrevKv = true,
                    },
                });
            }
            Log.Verbose(count == 1 ? $"etcd: delete {Describe(deletes[start])}." : $"etcd: transaction of {count} deletes ({deletes[start].Key} .. {deletes[start + count - 1].Key}).");
            var response = await connection.CallAsync("delete", o => connection.Grpc.KVClient.TxnAsync(txn, o), ct, deletes[start].Key).ConfigureAwait(false);
            for (var i = 0; i < count; i++)
            {
                var r = response.Responses[i].ResponseDeleteRange;
                var removed = r?.PrevKvs.Select(kv => ToKeyValue(kv, keysOnly: !returnKeys, asBytes: false)).ToList() ?? [];
                results.Add(removed);
            }
        }
        return results;
    }

    private static string Describe(EtcdDelete d) => d.Prefix ? $"prefix {d.Key}" : d.Key;

    private static string Describe(EtcdKeyQuery q) =>
        q.Key is null ? "all keys" : q.Prefix ? $"prefix {q.Key}" : q.FromKey ? $"from key {q.Key}" : $"key {q.Key}";

    public static EtcdKeyValue ToKeyValue(KeyValue kv, bool keysOnly, bool asBytes) =>
        ToKeyValue(kv.Key.Span, kv.Value.Span, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease, keysOnly, asBytes);

    public static EtcdKeyValue ToKeyValue(in EtcdRawKeyValue kv, bool keysOnly, bool asBytes) =>
        ToKeyValue(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease, keysOnly, asBytes);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static EtcdKeyValue ToKeyValue(ReadOnlySpan<byte> rawKey, ReadOnlySpan<byte> value, long createRevision, long modRevision, long version, long lease,
        bool keysOnly, bool asBytes)
    {
        var key = Encoding.UTF8.GetString(rawKey);
        string? text = null;
        var binary = false;
        KubernetesObjectInfo k8s = default;
        if (KubernetesValueDecoder.IsRegistryKey(key))
        {
            // Without the value (-KeysOnly) only the path can be decoded.
            k8s = keysOnly ? KubernetesValueDecoder.Decode(key, default) : KubernetesValueDecoder.Decode(key, value);
        }
        if (!keysOnly) text = TextOf(value, out binary);
        return new EtcdKeyValue
        {
            Key = key,
            Value = text,
            Bytes = asBytes && !keysOnly ? value.ToArray() : null,
            ByteLength = keysOnly ? null : value.Length,
            IsBinary = binary,
            CreateRevision = createRevision,
            ModRevision = modRevision,
            Version = version,
            Lease = lease,
            Resource = k8s.Resource,
            Namespace = k8s.Namespace,
            Name = k8s.Name,
            Kind = k8s.Kind,
            ApiVersion = k8s.ApiVersion,
        };
    }

    /// <summary>Control bytes a terminal would act on (everything below space except tab, LF, CR; and DEL).</summary>
    private static readonly System.Buffers.SearchValues<byte> ControlBytes = System.Buffers.SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127]);

    /// <summary>
    /// UTF-8 text of a value; binary values (invalid UTF-8 or control characters) come back with
    /// every unprintable byte as '.', so a terminal never receives raw control bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static string TextOf(ReadOnlySpan<byte> value, out bool binary)
    {
        binary = false;
        if (value.IsEmpty) return "";
        // Checked on the bytes, without exceptions: k3s values are mostly binary protobuf.
        if (value.IndexOfAny(ControlBytes) < 0 && System.Text.Unicode.Utf8.IsValid(value))
        {
            return Encoding.UTF8.GetString(value);
        }
        binary = true;
        var sb = new StringBuilder(value.Length);
        foreach (var b in value) sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        return sb.ToString();
    }
}
