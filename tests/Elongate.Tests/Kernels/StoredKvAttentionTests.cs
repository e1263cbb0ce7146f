using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// Attention over an F16 or Q8_0 cache, expanded tile by tile inside the kernel, equals attention over the same rows
/// expanded to fp32 beforehand: the expansion is exact and the arithmetic after it is the same instruction sequence.
/// </summary>
public class StoredKvAttentionTests
{
    [Theory]
    [InlineData(KvRowType.F16, 1, 300)]   // decode: one query against 300 cached rows (several tiles, a partial one)
    [InlineData(KvRowType.F16, 70, 130)]  // a prompt batch of 70 rows at offset 130
    [InlineData(KvRowType.Q8_0, 1, 300)]
    [InlineData(KvRowType.Q8_0, 70, 130)]
    public unsafe void Stored_rows_give_the_same_output_as_the_dense_kernel_on_their_fp32_values(KvRowType type, int queries, int offset)
    {
        const int heads = 8, kvHeads = 2, hd = 64, kvDim = kvHeads * hd;
        int rows = offset + queries, rowBytes = KvRows.RowBytesFor(type, kvDim);
        var rng = new Random(9);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        var q = R(queries * heads * hd);
        var kRaw = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        var vRaw = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        var kDense = new float[rows * kvDim];
        var vDense = new float[rows * kvDim];
        for (int r = 0; r < rows; r++)
        {
            Encode(type, R(kvDim), kRaw.AsSpan(r * rowBytes, rowBytes));
            Encode(type, R(kvDim), vRaw.AsSpan(r * rowBytes, rowBytes));
            Decode(type, kRaw.AsSpan(r * rowBytes, rowBytes), kDense.AsSpan(r * kvDim, kvDim));
            Decode(type, vRaw.AsSpan(r * rowBytes, rowBytes), vDense.AsSpan(r * kvDim, kvDim));
        }
        var expected = new float[q.Length];
        FlashAttention.ForwardCached<float>(expected, q, kDense, vDense, queries, offset, heads, kvHeads, hd);
        var actual = new float[q.Length];
        fixed (byte* k = kRaw, v = vRaw)
            FlashAttention.ForwardCached(actual, q, new KvRows(type, k, rows, rowBytes), new KvRows(type, v, rows, rowBytes), queries, offset, heads, kvHeads, hd);
        Assert.Equal(expected, actual);
    }

    private static void Encode(KvRowType type, float[] row, Span<byte> dst)
    {
        if (type == KvRowType.F16) TensorPrimitives.ConvertToHalf(row, MemoryMarshal.Cast<byte, Half>(dst));
        else GgmlQuants.Quantize(GgmlType.Q8_0, row).CopyTo(dst);
    }

    private static void Decode(KvRowType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (type == KvRowType.F16) TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
        else GgmlQuants.Dequantize(GgmlType.Q8_0, src, dst);
    }
}
