using System.Numerics.Tensors;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// A key or value cache of narrow rows (F16 or Q8_0) for <see cref="FlashAttention.ForwardCached(Span{float}, ReadOnlySpan{float}, KvRows, KvRows, int, int, int, int, int, int, int)"/>:
/// base address, row count, bytes per row. The memory must stay pinned for the call (a pinned array or native memory).
/// </summary>
public readonly unsafe struct KvRows(KvRowType type, byte* data, int rows, int rowBytes)
{
    /// <summary>Storage of each value.</summary>
    public KvRowType Type { get; } = type;

    /// <summary>Address of row 0.</summary>
    public byte* Data { get; } = data;

    /// <summary>Rows available.</summary>
    public int Rows { get; } = rows;

    /// <summary>Bytes per row.</summary>
    public int RowBytes { get; } = rowBytes;

    /// <summary>Bytes of one row of <paramref name="width"/> values stored as <paramref name="type"/>.</summary>
    public static int RowBytesFor(KvRowType type, int width) => type switch
    {
        KvRowType.F16 => 2 * width,
        KvRowType.Q8_0 => (int)GgmlTypes.ByteCount(GgmlType.Q8_0, width),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "dense rows are passed as spans"),
    };

    internal void Check(int neededRows, int width, int headDim, string name)
    {
        if (Type == KvRowType.Dense) throw new ArgumentException($"{name}: dense rows go through the span overload");
        if (Type == KvRowType.Q8_0 && headDim % GgmlTypes.QK != 0)
            throw new ArgumentException($"{name}: a Q8_0 cache needs heads of whole 32-value blocks; head size is {headDim}");
        if (RowBytes != RowBytesFor(Type, width)) throw new ArgumentException($"{name}: rows of {RowBytes} bytes do not hold {width} {Type} values");
        if (Rows < neededRows) throw new ArgumentException($"{name}: {Rows} rows, the attention needs {neededRows}");
    }

    /// <summary>Rows k0..k0+count−1, head g's <paramref name="hd"/> values of each, expanded to fp32 at dst (row stride hd).</summary>
    internal static void Expand(KvRowType type, byte* data, int rowBytes, int k0, int count, int g, int hd, float* dst)
    {
        for (int c = 0; c < count; c++)
        {
            byte* row = data + (long)(k0 + c) * rowBytes;
            var to = new Span<float>(dst + c * hd, hd);
            if (type == KvRowType.F16)
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)row + g * hd, hd), to);
            else
                GgmlQuants.Dequantize(GgmlType.Q8_0, new ReadOnlySpan<byte>(row + g * hd / GgmlTypes.QK * 34, hd / GgmlTypes.QK * 34), to);
        }
    }
}
