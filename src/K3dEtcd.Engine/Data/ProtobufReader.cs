using System.Runtime.CompilerServices;

namespace K3dEtcd.Data;

/// <summary>
/// Just enough of the protobuf wire format to walk a message's top-level fields (varint,
/// 64-bit, length-delimited, 32-bit). Used to peek at Kubernetes' runtime.Unknown envelope
/// without generated types.
/// </summary>
public ref struct ProtobufReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;
    private bool _malformed;

    public int FieldNumber { get; private set; }
    public int WireType { get; private set; }
    /// <summary>Offset of the next unread byte.</summary>
    public readonly int Position => _pos;
    /// <summary>True once every byte was read (after <see cref="Next"/> returned false: the input was well formed).</summary>
    public readonly bool AtEnd => !_malformed && _pos == _data.Length;

    /// <summary>Moves to the next field; false at the end or on malformed input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Next()
    {
        if (_pos >= _data.Length) return false;
        if (!TryReadVarint(out var tag) || tag >> 3 == 0 || tag >> 3 > int.MaxValue)
        {
            _malformed = true;
            return false;
        }
        FieldNumber = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        _malformed = WireType is not (0 or 1 or 2 or 5);
        return !_malformed;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadVarint(out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) return false;
            var b = _data[_pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }

    /// <summary>Reads the current varint field as protobuf int64 (two's complement, no zigzag).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadInt64(out long value)
    {
        value = 0;
        if (WireType != 0 || !TryReadVarint(out var raw)) return false;
        value = (long)raw;
        return true;
    }

    /// <summary>Reads the current length-delimited field's bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadBytes(out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (WireType != 2 || !TryReadVarint(out var length) || length > (ulong)(_data.Length - _pos)) return false;
        bytes = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return true;
    }

    /// <summary>Skips the current field's value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Skip()
    {
        switch (WireType)
        {
            case 0: return TryReadVarint(out _);
            case 1: return Advance(8);
            case 2: return TryReadBytes(out _);
            case 5: return Advance(4);
            default: return false;
        }
    }

    private bool Advance(int n)
    {
        if (_data.Length - _pos < n) return false;
        _pos += n;
        return true;
    }
}
