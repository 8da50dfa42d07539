using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using K3dEtcd.Common;

namespace K3dEtcd.Operations;

/// <summary>What a snapshot file holds, read without any etcd tool.</summary>
public sealed record SnapshotFileInfo(string Path, long Size, long DatabaseSize, long Revision, long TotalKeys, uint Hash, string Sha256)
{
    /// <summary>
    /// The keys live at <see cref="Revision"/> (what a range over the whole key space counts on a member restored from it),
    /// computed only by <see cref="SnapshotFile.ReadWithLiveKeys"/>: the distinct user keys of the "key" bucket whose newest record is not a tombstone.
    /// </summary>
    public long? LiveKeys { get; init; }
}

/// <summary>
/// Reads and verifies an etcd snapshot: a bbolt database followed by the SHA-256 of that database
/// (etcd's Maintenance.Snapshot appends it; restore checks it). The figures are computed the way
/// `etcdctl/etcdutl snapshot status` computes them (etcdutl/snapshot/v3_snapshot.go Status): a
/// CRC-32C over every bucket name and every key and value in key order, the count of those
/// records, and the main revision of the last key of the "key" bucket. Reading the file here
/// keeps Get-EtcdSnapshot free of Docker and lets Save-EtcdSnapshot verify before it renames.
/// </summary>
public static class SnapshotFile
{
    private const int Sha256Size = 32;
    private const uint BoltMagic = 0xED0CDAED;
    private const ushort BranchPage = 0x01, LeafPage = 0x02, MetaPage = 0x04;
    private const uint BucketLeafFlag = 0x01;
    private const int PageHeaderSize = 16;
    private const int ElementSize = 16;

    /// <summary>Verifies the trailing SHA-256 and walks the database; throws SnapshotTruncated/SnapshotCorrupted/SnapshotNotFound.</summary>
    public static SnapshotFileInfo Read(string path, Action<long, long>? progress = null, CancellationToken ct = default) => Read(path, null, progress, ct);

    /// <summary>
    /// As <see cref="Read(string, Action{long, long}?, CancellationToken)"/>; with <paramref name="knownSha256"/> (a hash
    /// already verified over the bytes as they were written) only the trailing hash is compared, not recomputed.
    /// </summary>
    public static SnapshotFileInfo Read(string path, byte[]? knownSha256, Action<long, long>? progress = null, CancellationToken ct = default) =>
        Read(path, knownSha256, progress, countLiveKeys: false, ct);

    /// <summary>As <see cref="Read(string, Action{long, long}?, CancellationToken)"/>, and counts the live keys too (<see cref="SnapshotFileInfo.LiveKeys"/>; memory grows with the number of distinct keys).</summary>
    public static SnapshotFileInfo ReadWithLiveKeys(string path, Action<long, long>? progress = null, CancellationToken ct = default) =>
        Read(path, null, progress, countLiveKeys: true, ct);

    private static SnapshotFileInfo Read(string path, byte[]? knownSha256, Action<long, long>? progress, bool countLiveKeys, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotNotFound, $"No snapshot file '{path}'.", path);
        }
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var size = RandomAccess.GetLength(handle);
            // etcd itself decides "has a hash" by size % 512 == 32 (a database is whole pages).
            if (size < 2 * 512 + Sha256Size || size % 512 != Sha256Size)
            {
                throw new K3dEtcdException(ErrorCatalog.SnapshotTruncated, $"'{path}' is not a complete etcd snapshot: its {size} bytes are not whole database pages followed by the 32-byte SHA-256 etcd appends (a truncated file, or a database copied from a data directory).", path);
            }
            var dbSize = size - Sha256Size;
            var sha = knownSha256 is null ? VerifySha256(handle, dbSize, path, progress, ct) : CompareTrailingSha256(handle, dbSize, knownSha256, path);
            var reader = new BoltReader(handle, dbSize, path) { CountLiveKeys = countLiveKeys };
            var (revision, total, hash, txSize) = reader.Walk(ct);
            return new SnapshotFileInfo(Path.GetFullPath(path), size, txSize, revision, total, hash, sha) { LiveKeys = countLiveKeys ? reader.LiveKeys : null };
        }
        catch (IOException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotUnreadable, $"'{path}' could not be read: {ex.Message}", path, ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotAccessDenied, $"'{path}' could not be read: {ex.Message}", path, ex);
        }
    }

    private static string CompareTrailingSha256(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long dbSize, byte[] known, string path)
    {
        var trailing = new byte[Sha256Size];
        RandomAccess.Read(handle, trailing, dbSize);
        if (!CryptographicOperations.FixedTimeEquals(trailing, known))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotCorrupted, $"'{path}' does not end with the SHA-256 its stream was verified against.", path);
        }
        return Convert.ToHexString(known).ToLowerInvariant();
    }

    private static string VerifySha256(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long dbSize, string path, Action<long, long>? progress, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long offset = 0;
        while (offset < dbSize)
        {
            ct.ThrowIfCancellationRequested();
            var n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, dbSize - offset)), offset);
            if (n == 0) break;
            sha.AppendData(buffer, 0, n);
            offset += n;
            progress?.Invoke(offset, dbSize);
        }
        var expected = new byte[Sha256Size];
        RandomAccess.Read(handle, expected, dbSize);
        var actual = sha.GetHashAndReset();
        if (!CryptographicOperations.FixedTimeEquals(actual, expected))
        {
            throw new K3dEtcdException(ErrorCatalog.SnapshotCorrupted, $"'{path}' is corrupted: the SHA-256 of its database ({Convert.ToHexString(actual).ToLowerInvariant()}) is not the one etcd appended ({Convert.ToHexString(expected).ToLowerInvariant()}).", path);
        }
        return Convert.ToHexString(actual).ToLowerInvariant();
    }

    /// <summary>A read-only bbolt walker over whole pages, enough for snapshot status.</summary>
    private sealed class BoltReader(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long dbSize, string path)
    {
        private int _pageSize;
        private readonly Crc32C _crc = new();
        private long _total;
        private long _revision;
        private readonly HashSet<string> _live = new(StringComparer.Ordinal);

        /// <summary>Track the user keys of the "key" bucket (<see cref="LiveKeys"/>).</summary>
        public bool CountLiveKeys { get; init; }

        /// <summary>After <see cref="Walk"/>: the user keys whose newest record is a put, not a tombstone.</summary>
        public long LiveKeys => _live.Count;

        public (long Revision, long Total, uint Hash, long TxSize) Walk(CancellationToken ct)
        {
            var (root, pgid) = ReadMeta();
            if (pgid * _pageSize > dbSize) throw Corrupt($"the database claims {pgid} pages of {_pageSize} bytes but holds {dbSize / _pageSize}");
            // The top-level bucket lists the buckets by name (a handful): copy them out, then walk each in key order.
            var buckets = new List<(byte[] Name, byte[] Value, uint Flags)>();
            Visit(root, null, (k, v, f) => buckets.Add((k.ToArray(), v.ToArray(), f)), ct);
            foreach (var (name, value, flags) in buckets)
            {
                if ((flags & BucketLeafFlag) == 0) throw Corrupt("a top-level record is not a bucket");
                _crc.Append(name);
                var isKeyBucket = name.AsSpan().SequenceEqual("key"u8);
                var (bucketRoot, inline) = BucketOf(value);
                Visit(bucketRoot, inline, (k, v, _) =>
                {
                    _crc.Append(k);
                    _crc.Append(v);
                    // An MVCC key is 8 bytes of main revision (big-endian), '_', 8 of sub revision.
                    if (isKeyBucket && k.Length >= 8) _revision = (long)BinaryPrimitives.ReadUInt64BigEndian(k);
                    // Records are in revision order, so the last one of a user key decides: a tombstone (the revision key
                    // marked 't', mvcc's markedRevBytesLen 18) deleted it, a put made it live.
                    if (isKeyBucket && CountLiveKeys) TrackLive(k, v);
                    _total++;
                }, ct);
            }
            return (_revision, _total, _crc.GetCurrentHashAsUInt32(), pgid * _pageSize);
        }

        private void TrackLive(ReadOnlySpan<byte> revision, ReadOnlySpan<byte> value)
        {
            // The value is an mvccpb.KeyValue; its field 1 (bytes) is the user key. Latin-1 maps bytes to chars one to one.
            var key = System.Text.Encoding.Latin1.GetString(UserKey(value));
            if (revision.Length == 18 && revision[17] == (byte)'t') _live.Remove(key);
            else _live.Add(key);
        }

        /// <summary>Field 1 of a protobuf message (mvccpb.KeyValue.key), skipping the varint and length-delimited fields before it.</summary>
        private ReadOnlySpan<byte> UserKey(ReadOnlySpan<byte> message)
        {
            var pos = 0;
            while (pos < message.Length)
            {
                var tag = ReadVarint(message, ref pos);
                var wire = (int)(tag & 7);
                if (wire == 0) { ReadVarint(message, ref pos); continue; }
                if (wire != 2) break;
                var length = ReadVarint(message, ref pos);
                if (length > (ulong)(message.Length - pos)) break;
                if (tag >> 3 == 1) return message.Slice(pos, (int)length);
                pos += (int)length;
            }
            throw Corrupt("a record of the key bucket holds no key");
        }

        private ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
        {
            ulong result = 0;
            for (var shift = 0; shift < 64 && pos < data.Length; shift += 7)
            {
                var b = data[pos++];
                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
            }
            throw Corrupt("a record of the key bucket is not a protobuf message");
        }

        private (ulong Root, long Pgid) ReadMeta()
        {
            // Page size is in the first meta page; bbolt keeps two metas and uses the valid one with the higher txid.
            var first = ReadBytes(0, 4096);
            var pageSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(PageHeaderSize + 8));
            if (BinaryPrimitives.ReadUInt32LittleEndian(first.AsSpan(PageHeaderSize)) != BoltMagic || pageSize < 512 || pageSize > 1 << 20 || (pageSize & (pageSize - 1)) != 0)
            {
                throw Corrupt("it does not start with a bbolt meta page");
            }
            _pageSize = pageSize;
            (ulong Root, long Pgid, ulong Txid)? best = null;
            for (var i = 0; i < 2; i++)
            {
                var page = ReadBytes((long)i * pageSize, pageSize);
                var meta = page.AsSpan(PageHeaderSize, 64);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(8));
                if (flags != MetaPage || BinaryPrimitives.ReadUInt32LittleEndian(meta) != BoltMagic) continue;
                if (Fnv64a(meta[..56]) != BinaryPrimitives.ReadUInt64LittleEndian(meta[56..])) continue;
                var root = BinaryPrimitives.ReadUInt64LittleEndian(meta[16..]);
                var pgid = (long)BinaryPrimitives.ReadUInt64LittleEndian(meta[40..]);
                var txid = BinaryPrimitives.ReadUInt64LittleEndian(meta[48..]);
                if (best is null || txid > best.Value.Txid) best = (root, pgid, txid);
            }
            if (best is null) throw Corrupt("neither of its two meta pages is valid");
            return (best.Value.Root, best.Value.Pgid);
        }

        private (ulong Root, byte[]? Inline) BucketOf(byte[] value)
        {
            if (value.Length < 16) throw Corrupt("a bucket header is shorter than 16 bytes");
            var root = BinaryPrimitives.ReadUInt64LittleEndian(value);
            // A small bucket is stored inline: its single leaf page follows the header inside the value.
            return root == 0 ? (0, value[16..]) : (root, null);
        }

        private delegate void ElementVisitor(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags);

        private byte[] _page = [];

        /// <summary>Key, value and flags of a bucket's leaf elements in key order (depth-first over branch pages), read into one reused buffer.</summary>
        private void Visit(ulong root, byte[]? inline, ElementVisitor visit, CancellationToken ct)
        {
            if (inline is not null)
            {
                VisitLeaf(inline, inline.Length, visit);
                return;
            }
            var stack = new Stack<ulong>();
            stack.Push(root);
            var visited = 0L;
            while (stack.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                var pgid = stack.Pop();
                if (++visited > dbSize / _pageSize + 1) throw Corrupt("its page tree has a cycle");
                var length = ReadPage(pgid);
                var page = _page;
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(8));
                var count = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(10));
                if ((flags & BranchPage) != 0)
                {
                    // Children in reverse so the leftmost is visited first.
                    for (var i = count - 1; i >= 0; i--)
                    {
                        var el = PageHeaderSize + i * ElementSize;
                        CheckRange(length, el, ElementSize);
                        stack.Push(BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(el + 8)));
                    }
                }
                else if ((flags & LeafPage) != 0)
                {
                    VisitLeaf(page, length, visit);
                }
                else
                {
                    throw Corrupt($"page {pgid} is neither a branch nor a leaf page (flags {flags:x})");
                }
            }
        }

        private void VisitLeaf(byte[] page, int length, ElementVisitor visit)
        {
            if (length < PageHeaderSize) throw Corrupt("a leaf page is cut short");
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(8));
            if ((flags & LeafPage) == 0) throw Corrupt("an inline bucket does not hold a leaf page");
            var count = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(10));
            for (var i = 0; i < count; i++)
            {
                var el = PageHeaderSize + i * ElementSize;
                CheckRange(length, el, ElementSize);
                var elFlags = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el));
                var pos = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 4));
                var ksize = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 8));
                var vsize = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 12));
                CheckRange(length, el + (long)pos, ksize + (long)vsize);
                visit(page.AsSpan(el + pos, ksize), page.AsSpan(el + pos + ksize, vsize), elFlags);
            }
        }

        private void CheckRange(int pageLength, long offset, long length)
        {
            if (offset < 0 || length < 0 || offset + length > pageLength) throw Corrupt("an element points outside its page");
        }

        /// <summary>Reads a page and its overflow pages into <see cref="_page"/>; returns its length.</summary>
        private int ReadPage(ulong pgid)
        {
            var offset = (long)pgid * _pageSize;
            if (pgid < 2 || offset + _pageSize > dbSize) throw Corrupt($"page {pgid} is outside the database");
            if (_page.Length < _pageSize) _page = new byte[_pageSize];
            ReadInto(offset, _page.AsSpan(0, _pageSize));
            var overflow = BinaryPrimitives.ReadUInt32LittleEndian(_page.AsSpan(12));
            var length = (overflow + 1L) * _pageSize;
            if (offset + length > dbSize || length > int.MaxValue) throw Corrupt($"page {pgid} runs past the end of the database");
            if (overflow > 0)
            {
                if (_page.Length < length) Array.Resize(ref _page, (int)length);
                ReadInto(offset + _pageSize, _page.AsSpan(_pageSize, (int)length - _pageSize));
            }
            return (int)length;
        }

        private void ReadInto(long offset, Span<byte> buffer)
        {
            var read = 0;
            while (read < buffer.Length)
            {
                var n = RandomAccess.Read(handle, buffer[read..], offset + read);
                if (n == 0) throw Corrupt("it ends inside a page");
                read += n;
            }
        }

        private byte[] ReadBytes(long offset, int length)
        {
            var buffer = new byte[length];
            var read = 0;
            while (read < length)
            {
                var n = RandomAccess.Read(handle, buffer.AsSpan(read), offset + read);
                if (n == 0) throw Corrupt("it ends inside a page");
                read += n;
            }
            return buffer;
        }

        private K3dEtcdException Corrupt(string why) =>
            new(ErrorCatalog.SnapshotCorrupted, $"'{path}' is not a readable etcd database: {why}.", path);

        /// <summary>CRC-32C (Castagnoli) as Go's hash/crc32 computes it, streamed over many writes.</summary>
        private sealed class Crc32C
        {
            private uint _state = uint.MaxValue;
            public void Append(ReadOnlySpan<byte> data)
            {
                var s = _state;
                while (data.Length >= 8)
                {
                    s = BitOperations.Crc32C(s, BinaryPrimitives.ReadUInt64LittleEndian(data));
                    data = data[8..];
                }
                foreach (var b in data) s = BitOperations.Crc32C(s, b);
                _state = s;
            }
            public uint GetCurrentHashAsUInt32() => ~_state;
        }

        private static ulong Fnv64a(ReadOnlySpan<byte> data)
        {
            var h = 14695981039346656037UL;
            foreach (var b in data) { h ^= b; h *= 1099511628211UL; }
            return h;
        }
    }
}
