using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Model;

/// <summary>
/// The key/value cache of every layer, allocated once for the whole context in the chosen storage type. The attention
/// kernel reads F32 rows in place and expands F16/Q8_0 rows tile by tile as it goes (<see cref="KvRows"/>), so the
/// cache costs 4, 2 or 1.0625 bytes per value. Only the length-dependent RoPE types, whose keys are re-rotated from
/// the raw cache, expand whole layers into an fp32 scratch (<see cref="DecodeKeys"/>, <see cref="DecodeValues"/>).
/// </summary>
public sealed unsafe class KvCache
{
    private readonly float[][]? _kF32, _vF32;
    private readonly byte[][]? _kRaw, _vRaw;   // F16 or Q8_0 rows, one pinned array per layer
    private float[]? _kScratch, _vScratch;
    private readonly int _rowBytes;

    /// <summary>Storage type.</summary>
    public KvCacheType Type { get; }

    /// <summary>Positions held.</summary>
    public int Capacity { get; }

    /// <summary>Values per row (n_kv_heads·head_dim).</summary>
    public int Width { get; }

    /// <summary>Bytes the cache needs for <paramref name="layers"/> layers of <paramref name="capacity"/> rows of <paramref name="width"/> (keys and values).</summary>
    public static long RequiredBytes(KvCacheType type, int layers, int capacity, int width) =>
        2L * layers * capacity * RowBytes(type, width);

    /// <summary>Bytes of the fp32 scratch that <see cref="DecodeKeys"/>/<see cref="DecodeValues"/> allocate for a narrow cache.</summary>
    public static long DecodeScratchBytes(KvCacheType type, int capacity, int width) =>
        type == KvCacheType.F32 ? 0 : 2L * capacity * width * sizeof(float);

    private static long RowBytes(KvCacheType type, int width) => type switch
    {
        KvCacheType.F32 => 4L * width,
        KvCacheType.F16 => 2L * width,
        KvCacheType.Q8_0 => GgmlTypes.ByteCount(GgmlType.Q8_0, width),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Allocates the cache; Q8_0 needs <paramref name="width"/> to be a multiple of 32.</summary>
    public KvCache(KvCacheType type, int layers, int capacity, int width)
    {
        if (type == KvCacheType.Q8_0 && width % GgmlTypes.QK != 0)
            throw new ArgumentException($"a Q8_0 cache needs a kv width that is a multiple of {GgmlTypes.QK}; this model's is {width}");
        Type = type;
        Capacity = capacity;
        Width = width;
        _rowBytes = (int)RowBytes(type, width);
        if (type == KvCacheType.F32)
        {
            _kF32 = new float[layers][];
            _vF32 = new float[layers][];
            for (int l = 0; l < layers; l++)
            {
                _kF32[l] = new float[(long)capacity * width];
                _vF32[l] = new float[(long)capacity * width];
            }
        }
        else
        {
            _kRaw = new byte[layers][];
            _vRaw = new byte[layers][];
            // Pinned: the attention kernel reads them through raw pointers while other threads run.
            for (int l = 0; l < layers; l++)
            {
                _kRaw[l] = GC.AllocateArray<byte>(checked(capacity * _rowBytes), pinned: true);
                _vRaw[l] = GC.AllocateArray<byte>(checked(capacity * _rowBytes), pinned: true);
            }
        }
    }

    /// <summary>Stores n rows of keys and values at positions pos0..pos0+n−1 of <paramref name="layer"/>.</summary>
    public void Write(int layer, int pos0, int n, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        if (_kF32 is not null)
        {
            keys[..(n * Width)].CopyTo(_kF32[layer].AsSpan(pos0 * Width));
            values[..(n * Width)].CopyTo(_vF32![layer].AsSpan(pos0 * Width));
            return;
        }
        for (int t = 0; t < n; t++)
        {
            Encode(keys.Slice(t * Width, Width), _kRaw![layer].AsSpan((pos0 + t) * _rowBytes, _rowBytes));
            Encode(values.Slice(t * Width, Width), _vRaw![layer].AsSpan((pos0 + t) * _rowBytes, _rowBytes));
        }
    }

    private void Encode(ReadOnlySpan<float> row, Span<byte> dst)
    {
        if (Type == KvCacheType.F16) TensorPrimitives.ConvertToHalf(row, MemoryMarshal.Cast<byte, Half>(dst));
        else
            for (int b = 0; b < Width / GgmlTypes.QK; b++)
                GgmlQuants.QuantizeQ8_0Block(row.Slice(b * GgmlTypes.QK, GgmlTypes.QK), dst.Slice(b * 34, 34));
    }

    /// <summary>Whether rows are fp32 (read in place through <see cref="Dense"/>) rather than F16/Q8_0 (<see cref="Stored"/>).</summary>
    public bool IsDense => _kF32 is not null;

    /// <summary>A layer's fp32 keys and values, [capacity, width] each; only for an F32 cache.</summary>
    public (float[] Keys, float[] Values) Dense(int layer) =>
        _kF32 is not null ? (_kF32[layer], _vF32![layer]) : throw new InvalidOperationException($"the cache is {Type}, not F32");

    /// <summary>A layer's narrow keys and values for the attention kernel; only for an F16/Q8_0 cache.</summary>
    public (KvRows Keys, KvRows Values) Stored(int layer)
    {
        if (_kRaw is null) throw new InvalidOperationException("the cache is F32: use Dense");
        var t = Type == KvCacheType.F16 ? KvRowType.F16 : KvRowType.Q8_0;
        fixed (byte* k = _kRaw[layer], v = _vRaw![layer]) // pinned arrays: the addresses stay valid after this block
            return (new KvRows(t, k, Capacity, _rowBytes), new KvRows(t, v, Capacity, _rowBytes));
    }

    /// <summary>Rows 0..<paramref name="rows"/>−1 of a layer's keys as fp32: the cache itself for F32, else a scratch valid until the next call.</summary>
    public float[] DecodeKeys(int layer, int rows)
    {
        if (_kF32 is not null) return _kF32[layer];
        _kScratch ??= new float[(long)Capacity * Width];
        Decode(_kRaw![layer], _kScratch, rows);
        return _kScratch;
    }

    /// <summary>As <see cref="DecodeKeys"/>, for values.</summary>
    public float[] DecodeValues(int layer, int rows)
    {
        if (_vF32 is not null) return _vF32[layer];
        _vScratch ??= new float[(long)Capacity * Width];
        Decode(_vRaw![layer], _vScratch, rows);
        return _vScratch;
    }

    private void Decode(byte[] raw, float[] dst, int rows)
    {
        var src = raw.AsSpan(0, rows * _rowBytes);
        var d = dst.AsSpan(0, rows * Width);
        if (Type == KvCacheType.F16) TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), d);
        else GgmlQuants.Dequantize(GgmlType.Q8_0, src, d);
    }
}
