using System.Buffers;
using System.Reflection;
using System.Runtime.CompilerServices;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace K3dEtcd.Data;

/// <summary>
/// One etcd RangeResponse kept as the bytes gRPC received, in a pooled buffer, and decoded one key
/// at a time as the caller reads it. A page of 30k keys then costs one buffer instead of 30k
/// KeyValue objects holding two ByteString copies each, all alive (and promoted by the GC) until
/// the page is done; Get-EtcdKey spends its time on the keys it returns, not on copies of them.
/// </summary>
public sealed class EtcdRangePage : IDisposable
{
    /// <summary>KV.Range with this page as its response type; the request is the generated one.</summary>
    private static readonly Method<RangeRequest, EtcdRangePage> RangeMethod = new(
        MethodType.Unary, "etcdserverpb.KV", "Range",
        Marshallers.Create(r => r.ToByteArray(), RangeRequest.Parser.ParseFrom),
        new Marshaller<EtcdRangePage>((_, _) => throw new NotSupportedException("A range page is only received."), Receive));

    // The generated client's invoker carries dotnet-etcd's endpoints, fail-over, retries and auth token.
    private static readonly PropertyInfo ClientInvoker =
        typeof(ClientBase).GetProperty("CallInvoker", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingMemberException(nameof(ClientBase), "CallInvoker");

    private byte[]? _buffer;
    private readonly int _length;
    private int[]? _entries;   // offset and length of each KeyValue in _buffer

    public long Revision { get; private set; }
    public bool More { get; private set; }
    public long Count { get; private set; }
    /// <summary>Keys in this page.</summary>
    public int KeyCount { get; private set; }
    /// <summary>Size of the response on the wire.</summary>
    public int ByteLength => _length;

    private EtcdRangePage(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>Sends <paramref name="request"/> through the generated client's invoker and receives the raw page.</summary>
    public static AsyncUnaryCall<EtcdRangePage> RangeAsync(KV.KVClient client, RangeRequest request, CallOptions options) =>
        ((CallInvoker)ClientInvoker.GetValue(client)!).AsyncUnaryCall(RangeMethod, null, options, request);

    private static EtcdRangePage Receive(DeserializationContext context)
    {
        var payload = context.PayloadAsReadOnlySequence();
        var page = Rent(checked((int)payload.Length));
        payload.CopyTo(page._buffer);
        return page.Indexed();
    }

    /// <summary>A page from a serialized RangeResponse (the bytes are copied).</summary>
    public static EtcdRangePage Parse(ReadOnlySpan<byte> response)
    {
        var page = Rent(response.Length);
        response.CopyTo(page._buffer);
        return page.Indexed();
    }

    private static EtcdRangePage Rent(int length) => new(ArrayPool<byte>.Shared.Rent(Math.Max(1, length)), length);

    private EtcdRangePage Indexed()
    {
        try
        {
            Index();
            return this;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Reads the header, more and count, and notes where each key's record is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Index()
    {
        var data = _buffer.AsSpan(0, _length);
        var entries = ArrayPool<int>.Shared.Rent(256);
        var count = 0;
        var reader = new ProtobufReader(data);
        while (reader.Next())
        {
            switch (reader.FieldNumber)
            {
                case 1 when reader.WireType == 2:
                    if (!reader.TryReadBytes(out var header)) throw Malformed();
                    Revision = ReadHeaderRevision(header);
                    break;
                case 2 when reader.WireType == 2:
                    if (!reader.TryReadBytes(out var kv)) throw Malformed();
                    if (2 * count + 2 > entries.Length)
                    {
                        var bigger = ArrayPool<int>.Shared.Rent(entries.Length * 2);
                        entries.AsSpan(0, 2 * count).CopyTo(bigger);
                        ArrayPool<int>.Shared.Return(entries);
                        entries = bigger;
                    }
                    entries[2 * count] = reader.Position - kv.Length;
                    entries[2 * count + 1] = kv.Length;
                    count++;
                    break;
                case 3 when reader.WireType == 0:
                    if (!reader.TryReadInt64(out var more)) throw Malformed();
                    More = more != 0;
                    break;
                case 4 when reader.WireType == 0:
                    if (!reader.TryReadInt64(out var total)) throw Malformed();
                    Count = total;
                    break;
                default:
                    if (!reader.Skip()) throw Malformed();
                    break;
            }
        }
        if (!reader.AtEnd) throw Malformed();
        _entries = entries;
        KeyCount = count;
    }

    private static long ReadHeaderRevision(ReadOnlySpan<byte> header)
    {
        var reader = new ProtobufReader(header);
        while (reader.Next())
        {
            if (reader.FieldNumber == 3 && reader.TryReadInt64(out var revision)) return revision;
            if (!reader.Skip()) break;
        }
        return 0;
    }

    private static InvalidDataException Malformed() => new("etcd sent a range response that is not valid protobuf.");

    /// <summary>The fields of the key at <paramref name="index"/>, as spans into the page.</summary>
    public EtcdRawKeyValue this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)KeyCount, nameof(index));
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return EtcdRawKeyValue.Parse(_buffer.AsSpan(_entries![2 * index], _entries[2 * index + 1]));
        }
    }

    /// <summary>Returns the buffers to the pool; keys read before stay valid (they are copies).</summary>
    public void Dispose()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
        if (_entries is not null) ArrayPool<int>.Shared.Return(_entries);
        _buffer = null;
        _entries = null;
    }
}

/// <summary>One mvccpb.KeyValue read in place: key and value are spans into the page's buffer.</summary>
public readonly ref struct EtcdRawKeyValue
{
    public ReadOnlySpan<byte> Key { get; private init; }
    public ReadOnlySpan<byte> Value { get; private init; }
    public long CreateRevision { get; private init; }
    public long ModRevision { get; private init; }
    public long Version { get; private init; }
    public long Lease { get; private init; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static EtcdRawKeyValue Parse(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> key = default, value = default;
        long create = 0, mod = 0, version = 0, lease = 0;
        var reader = new ProtobufReader(data);
        while (reader.Next())
        {
            var ok = reader.FieldNumber switch
            {
                1 => reader.TryReadBytes(out key),
                2 => reader.TryReadInt64(out create),
                3 => reader.TryReadInt64(out mod),
                4 => reader.TryReadInt64(out version),
                5 => reader.TryReadBytes(out value),
                6 => reader.TryReadInt64(out lease),
                _ => reader.Skip(),
            };
            if (!ok) throw new InvalidDataException("etcd sent a key that is not valid protobuf.");
        }
        if (!reader.AtEnd) throw new InvalidDataException("etcd sent a key that is not valid protobuf.");
        return new EtcdRawKeyValue { Key = key, Value = value, CreateRevision = create, ModRevision = mod, Version = version, Lease = lease };
    }
}
