using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using K3dEtcd.Common;

namespace K3dEtcd.Operations;

/// <summary>What a snapshot file holds, read without any etcd tool.</summary>
public sealed record SnapshotFileInfo(string Path, long Size, long DatabaseSize, long Revision, long TotalKeys, uint Hash, string Sha256);

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
    public static SnapshotFileInfo Read(string path, Action<long, long>? progress = null, CancellationToken ct = default)
    {
        if (!File.Exists(path))
        {
            throw new K3dEtcdException("SnapshotNotFound", FailureKind.ObjectNotFound, $"No snapshot file '{path}'.", path);
        }
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var size = RandomAccess.GetLength(handle);
            // etcd itself decides "has a hash" by size % 512 == 32 (a database is whole pages).
            if (size < 2 * 512 + Sha256Size || size % 512 != Sha256Size)
            {
                throw new K3dEtcdException("SnapshotTruncated", FailureKind.InvalidArgument,
                    $"'{path}' is not a complete etcd snapshot: its {size} bytes are not whole database pages followed by the 32-byte SHA-256 etcd appends (a truncated file, or a database copied from a data directory).", path);
            }
            var dbSize = size - Sha256Size;
            var sha = VerifySha256(handle, dbSize, path, progress, ct);
            var reader = new BoltReader(handle, dbSize, path);
            var (revision, total, hash, txSize) = reader.Walk(ct);
            return new SnapshotFileInfo(Path.GetFullPath(path), size, txSize, revision, total, hash, sha);
        }
        catch (IOException ex)
        {
            throw new K3dEtcdException("SnapshotUnreadable", FailureKind.ResourceUnavailable, $"'{path}' could not be read: {ex.Message}", path, ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new K3dEtcdException("SnapshotUnreadable", FailureKind.SecurityError, $"'{path}' could not be read: {ex.Message}", path, ex);
        }
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
            throw new K3dEtcdException("SnapshotCorrupted", FailureKind.InvalidArgument,
                $"'{path}' is corrupted: the SHA-256 of its database ({Convert.ToHexString(actual).ToLowerInvariant()}) is not the one etcd appended ({Convert.ToHexString(expected).ToLowerInvariant()}).", path);
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

        public (long Revision, long Total, uint Hash, long TxSize) Walk(CancellationToken ct)
        {
            var (root, pgid) = ReadMeta();
            if (pgid * _pageSize > dbSize) throw Corrupt($"the database claims {pgid} pages of {_pageSize} bytes but holds {dbSize / _pageSize}");
            // The top-level bucket lists the buckets by name; each is hashed after its name, in key order.
            foreach (var (name, value, flags) in Iterate(root, null, ct))
            {
                if ((flags & BucketLeafFlag) == 0) throw Corrupt("a top-level record is not a bucket");
                _crc.Append(name);
                var isKeyBucket = name.AsSpan().SequenceEqual("key"u8);
                var (bucketRoot, inline) = BucketOf(value);
                foreach (var (k, v, _) in Iterate(bucketRoot, inline, ct))
                {
                    _crc.Append(k);
                    _crc.Append(v);
                    // An MVCC key is 8 bytes of main revision (big-endian), '_', 8 of sub revision.
                    if (isKeyBucket && k.Length >= 8) _revision = (long)BinaryPrimitives.ReadUInt64BigEndian(k);
                    _total++;
                }
            }
            return (_revision, _total, _crc.GetCurrentHashAsUInt32(), pgid * _pageSize);
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

        /// <summary>Key, value and flags of a bucket's leaf elements in key order (depth-first over branch pages).</summary>
        private IEnumerable<(byte[] Key, byte[] Value, uint Flags)> Iterate(ulong root, byte[]? inline, CancellationToken ct)
        {
            var stack = new Stack<ulong>();
            if (inline is not null)
            {
                foreach (var e in LeafElements(inline, 0)) yield return e;
                yield break;
            }
            stack.Push(root);
            var visited = 0L;
            while (stack.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                var pgid = stack.Pop();
                if (++visited > dbSize / _pageSize + 1) throw Corrupt("its page tree has a cycle");
                var page = ReadPage(pgid);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(8));
                var count = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(10));
                if ((flags & BranchPage) != 0)
                {
                    // Children in reverse so the leftmost is visited first.
                    for (var i = count - 1; i >= 0; i--)
                    {
                        var el = PageHeaderSize + i * ElementSize;
                        CheckRange(page, el, ElementSize);
                        stack.Push(BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(el + 8)));
                    }
                }
                else if ((flags & LeafPage) != 0)
                {
                    foreach (var e in LeafElements(page, 0)) yield return e;
                }
                else
                {
                    throw Corrupt($"page {pgid} is neither a branch nor a leaf page (flags {flags:x})");
                }
            }
        }

        private IEnumerable<(byte[] Key, byte[] Value, uint Flags)> LeafElements(byte[] page, int start)
        {
            if (page.Length < start + PageHeaderSize) throw Corrupt("a leaf page is cut short");
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(start + 8));
            if ((flags & LeafPage) == 0) throw Corrupt("an inline bucket does not hold a leaf page");
            var count = BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(start + 10));
            for (var i = 0; i < count; i++)
            {
                var el = start + PageHeaderSize + i * ElementSize;
                CheckRange(page, el, ElementSize);
                var elFlags = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el));
                var pos = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 4));
                var ksize = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 8));
                var vsize = (int)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(el + 12));
                CheckRange(page, el + pos, ksize + (long)vsize);
                yield return (page.AsSpan(el + pos, ksize).ToArray(), page.AsSpan(el + pos + ksize, vsize).ToArray(), elFlags);
            }
        }

        private void CheckRange(byte[] page, long offset, long length)
        {
            if (offset < 0 || length < 0 || offset + length > page.Length) throw Corrupt("an element points outside its page");
        }

        private byte[] ReadPage(ulong pgid)
        {
            var offset = (long)pgid * _pageSize;
            if (pgid < 2 || offset + _pageSize > dbSize) throw Corrupt($"page {pgid} is outside the database");
            var header = ReadBytes(offset, PageHeaderSize);
            var overflow = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(12));
            var length = (overflow + 1L) * _pageSize;
            if (offset + length > dbSize || length > int.MaxValue) throw Corrupt($"page {pgid} runs past the end of the database");
            return ReadBytes(offset, (int)length);
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
            new("SnapshotCorrupted", FailureKind.InvalidArgument, $"'{path}' is not a readable etcd database: {why}.", path);

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
