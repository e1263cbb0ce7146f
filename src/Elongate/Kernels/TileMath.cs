using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Elongate.Kernels;

/// <summary>
/// The three small products <see cref="FlashAttention"/> does per (query row, key tile): a row against up to a tile
/// of key rows (scores), a weighted sum of value rows, and a rank-one update of a tile of gradient rows. Written with
/// <see cref="Vector{T}"/> so one query chunk is loaded once for four keys and an output chunk stays in a register
/// across a whole tile, instead of one library call per (row, key) pair. Each output element is computed by the same
/// instruction sequence wherever it falls in a call (blocked or remainder), which keeps the kernels' per-row results
/// independent of how rows are batched. Head sizes that are not a multiple of the vector width use TensorPrimitives.
/// </summary>
internal static unsafe class TileMath
{
    private static bool Vectorized<T>(int n) where T : unmanaged
        => Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n % Vector<T>.Count == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Load<T>(T* p) where T : unmanaged => Unsafe.ReadUnaligned<Vector<T>>(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<T>(Vector<T> v, T* p) where T : unmanaged => Unsafe.WriteUnaligned(p, v);

    /// <summary>dst[c] = (x · rows[c])·scale for c &lt; count; row c starts at rows + c·stride; x and rows have n entries.</summary>
    public static void Dots<T>(T* x, T* rows, long stride, int count, int n, T scale, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vectorized<T>(n))
        {
            var xs = new ReadOnlySpan<T>(x, n);
            for (int c = 0; c < count; c++) dst[c] = TensorPrimitives.Dot(xs, new ReadOnlySpan<T>(rows + c * stride, n)) * scale;
            return;
        }
        int w = Vector<T>.Count, k = 0;
        for (; k + 4 <= count; k += 4)
        {
            T* r0 = rows + k * stride, r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
            Vector<T> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int d = 0; d < n; d += w)
            {
                var xv = Load(x + d);
                a0 += xv * Load(r0 + d);
                a1 += xv * Load(r1 + d);
                a2 += xv * Load(r2 + d);
                a3 += xv * Load(r3 + d);
            }
            dst[k] = Vector.Sum(a0) * scale;
            dst[k + 1] = Vector.Sum(a1) * scale;
            dst[k + 2] = Vector.Sum(a2) * scale;
            dst[k + 3] = Vector.Sum(a3) * scale;
        }
        for (; k < count; k++)
        {
            T* r0 = rows + k * stride;
            Vector<T> a0 = default;
            for (int d = 0; d < n; d += w) a0 += Load(x + d) * Load(r0 + d);
            dst[k] = Vector.Sum(a0) * scale;
        }
    }

    /// <summary>acc[0..n) += Σ_c weights[c]·rows[c] for c &lt; count (row c at rows + c·stride).</summary>
    public static void WeightedSum<T>(T* acc, T* weights, T* rows, long stride, int count, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vectorized<T>(n))
        {
            var a = new Span<T>(acc, n);
            for (int c = 0; c < count; c++) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(rows + c * stride, n), weights[c], a, a);
            return;
        }
        int w = Vector<T>.Count, d = 0;
        // Two output chunks per pass: half the passes over the tile's rows.
        for (; d + 2 * w <= n; d += 2 * w)
        {
            Vector<T> a0 = Load(acc + d), a1 = Load(acc + d + w);
            T* r = rows + d;
            for (int c = 0; c < count; c++, r += stride)
            {
                var p = new Vector<T>(weights[c]);
                a0 += p * Load(r);
                a1 += p * Load(r + w);
            }
            Store(a0, acc + d);
            Store(a1, acc + d + w);
        }
        for (; d < n; d += w)
        {
            Vector<T> a0 = Load(acc + d);
            T* r = rows + d;
            for (int c = 0; c < count; c++, r += stride) a0 += new Vector<T>(weights[c]) * Load(r);
            Store(a0, acc + d);
        }
    }

    /// <summary>rows[c][0..n) += weights[c]·x for c &lt; count (row c at rows + c·stride).</summary>
    public static void RankOne<T>(T* rows, long stride, T* weights, T* x, int count, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vectorized<T>(n))
        {
            var xs = new ReadOnlySpan<T>(x, n);
            for (int c = 0; c < count; c++)
            {
                var r = new Span<T>(rows + c * stride, n);
                TensorPrimitives.MultiplyAdd(xs, weights[c], r, r);
            }
            return;
        }
        int w = Vector<T>.Count;
        for (int c = 0; c < count; c++)
        {
            T* r = rows + c * stride;
            var p = new Vector<T>(weights[c]);
            for (int d = 0; d < n; d += w) Store(Load(r + d) + p * Load(x + d), r + d);
        }
    }
}
