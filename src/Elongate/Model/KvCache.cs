using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Model;

/// <summary>
/// The key/value cache of every layer, allocated once for the whole context in the chosen storage type. F32 rows are
/// read in place by the attention kernel; F16 and Q8_0 rows are expanded to fp32 for the rows a step reads, one
/// layer at a time into a shared scratch, so the cache itself costs 2 (F16) or 1.0625 (Q8_0) bytes per value.
/// </summary>
public sealed class KvCache
{
    private readonly float[][]? _kF32, _vF32;
    private readonly byte[][]? _kRaw, _vRaw;   // F16 or Q8_0 rows, one array per layer
    private readonly float[]? _kScratch, _vScratch;
    private readonly int _rowBytes;

    /// <summary>Storage type.</summary>
    public KvCacheType Type { get; }

    /// <summary>Positions held.</summary>
    public int Capacity { get; }

    /// <summary>Values per row (n_kv_heads·head_dim).</summary>
    public int Width { get; }

    /// <summary>Bytes the cache needs for <paramref name="layers"/> layers of <paramref name="capacity"/> rows of <paramref name="width"/> (keys and values, plus the fp32 scratch of the narrow types).</summary>
    public static long RequiredBytes(KvCacheType type, int layers, int capacity, int width)
    {
        long perRow = RowBytes(type, width);
        long cache = 2L * layers * capacity * perRow;
        long scratch = type == KvCacheType.F32 ? 0 : 2L * capacity * width * sizeof(float);
        return cache + scratch;
    }

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
            for (int l = 0; l < layers; l++)
            {
                _kRaw[l] = new byte[(long)capacity * _rowBytes];
                _vRaw[l] = new byte[(long)capacity * _rowBytes];
            }
            _kScratch = new float[(long)capacity * width];
            _vScratch = new float[(long)capacity * width];
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

    /// <summary>
    /// Rows 0..<paramref name="rows"/>−1 of a layer's keys and values as fp32: the cache itself for F32, else the shared
    /// scratch, valid until the next call.
    /// </summary>
    public (float[] Keys, float[] Values) Read(int layer, int rows)
    {
        if (_kF32 is not null) return (_kF32[layer], _vF32![layer]);
        Decode(_kRaw![layer], _kScratch!, rows);
        Decode(_vRaw![layer], _vScratch!, rows);
        return (_kScratch!, _vScratch!);
    }

    private void Decode(byte[] raw, float[] dst, int rows)
    {
        var src = raw.AsSpan(0, rows * _rowBytes);
        var d = dst.AsSpan(0, rows * Width);
        if (Type == KvCacheType.F16) TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), d);
        else GgmlQuants.Dequantize(GgmlType.Q8_0, src, d);
    }
}
