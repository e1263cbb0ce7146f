using System.Numerics;
using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// Rotary position embedding on adjacent pairs (2i, 2i+1) of the first d_rot dimensions of each head, driven by a
/// precomputed table so every RoPE variant (plain, NTK, YaRN, LongRoPE, xPos…) is only a different table: cos and
/// sin are [seqLen, d_rot/2] and an optional scale of the same shape multiplies the rotated pair (xPos passes ζ for
/// queries and 1/ζ for keys). The map is linear and orthogonal up to that scale, so the backward is the rotation by
/// −angle times the same scale, applied to the gradient; it needs no saved activation. All of it is one routine,
/// <see cref="RotateRows{T}"/>: the whole-buffer <see cref="Forward{T}"/> / <see cref="Backward{T}"/>, inference's
/// one row at a time (<see cref="Rope.RopeTable.ApplyAdjacent(Span{float}, int, Rope.RopeRole, int, int)"/>) and the
/// training attention kernels, which rotate each query and key tile as they load it and rotate their dQ, dK back as
/// they store them (<see cref="AttentionRope{T}"/>), so all of them rotate with the same arithmetic.
/// </summary>
public static class RopeRotation
{
    /// <summary>
    /// Rotates x in place. x is [rows, heads·headDim]; row r sits at position r mod seqLen (rows = batch·seqLen).
    /// </summary>
    /// <param name="scale">Per-position, per-pair scale [seqLen, d_rot/2], or empty for none.</param>
    public static void Forward<T>(Span<T> x, int rows, int seqLen, int heads, int headDim, int rotaryDim,
        ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> scale = default)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Apply(x, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale, backward: false);

    /// <summary>Turns dy into dx in place: the transposed (−angle) rotation with the same scale.</summary>
    public static void Backward<T>(Span<T> dx, int rows, int seqLen, int heads, int headDim, int rotaryDim,
        ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> scale = default)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Apply(dx, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale, backward: true);

    /// <summary>Throws unless the rotary dimension fits the head and the tables hold [seqLen, rotaryDim/2].</summary>
    internal static void CheckTables(int seqLen, int headDim, int rotaryDim, int cosLength, int sinLength, int scaleLength)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
            throw new ArgumentException($"rotary dimension {rotaryDim} must be even and within the head size {headDim}");
        long n = (long)seqLen * (rotaryDim / 2);
        if (seqLen <= 0 || cosLength < n || sinLength < n || (scaleLength != 0 && scaleLength < n))
            throw new ArgumentException($"RoPE tables must be [{seqLen}, {rotaryDim / 2}]");
    }

    private static unsafe void Apply<T>(Span<T> x, int rows, int seqLen, int heads, int headDim, int rotaryDim,
        ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> scale, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckTables(seqLen, headDim, rotaryDim, cos.Length, sin.Length, scale.Length);
        int width = heads * headDim;
        if (x.Length < (long)rows * width) throw new ArgumentException($"x holds {x.Length} values, need [{rows}, {width}]");
        fixed (T* px = x, pc = cos, ps = sin, psc = scale)
        {
            T* sc = scale.IsEmpty ? null : psc;
            for (int r0 = 0; r0 < rows; r0 += seqLen)
            {
                int n = Math.Min(seqLen, rows - r0);
                for (int h = 0; h < heads; h++)
                {
                    T* head = px + (long)r0 * width + h * headDim;
                    RotateRows(head, width, head, width, n, 0, headDim, rotaryDim, pc, ps, sc, backward, accumulate: false);
                }
            }
        }
    }

    /// <summary>
    /// The rotation of <paramref name="rows"/> rows of one head: row r is read from src + r·srcStride, sits at position
    /// pos0 + r of the tables and goes to dst + r·dstStride (dst may be src: each pair is read before it is written).
    /// The first <paramref name="rotaryDim"/> of the <paramref name="headDim"/> values are rotated, the rest pass
    /// through unchanged. With <paramref name="accumulate"/> the result is added to dst instead of stored.
    /// Tables are [positions, rotaryDim/2] (cos, sin; scale may be null), already checked by the caller. Per pair:
    /// c = cos·scale, s = ±sin·scale (− for the backward), then (a, b) → (a·c − b·s, a·s + b·c), products rounded
    /// separately, so the vector and scalar paths give the same bits.
    /// </summary>
    internal static unsafe void RotateRows<T>(T* src, long srcStride, T* dst, long dstStride, int rows, int pos0,
        int headDim, int rotaryDim, T* cos, T* sin, T* scale, bool backward, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            RotateRowsFloat((float*)src, srcStride, (float*)dst, dstStride, rows, pos0, headDim, rotaryDim,
                (float*)cos, (float*)sin, (float*)scale, backward, accumulate);
            return;
        }
        int pairs = rotaryDim / 2;
        for (int r = 0; r < rows; r++)
        {
            T* x = src + r * srcStride, y = dst + r * dstStride;
            long tb = (long)(pos0 + r) * pairs;
            for (int i = 0; i < pairs; i++) RotatePair(x, y, 2 * i, cos[tb + i], sin[tb + i], scale == null ? T.One : scale[tb + i], scale != null, backward, accumulate);
            PassThrough(x, y, rotaryDim, headDim, accumulate);
        }
    }

    /// <summary>
    /// The float case: four pairs (one 256-bit vector) at a time where the CPU has them, the pair formula of
    /// <see cref="RotatePair{T}"/> for the rest. The vector form computes x·c + swap(x)·(∓s, ±s) lane by lane, which is
    /// the same two products and one sum per output as the scalar one.
    /// </summary>
    private static unsafe void RotateRowsFloat(float* src, long srcStride, float* dst, long dstStride, int rows, int pos0,
        int headDim, int rotaryDim, float* cos, float* sin, float* scale, bool backward, bool accumulate)
    {
        int pairs = rotaryDim / 2;
        int vectorPairs = Vector256.IsHardwareAccelerated ? pairs / 4 * 4 : 0;
        // Forward: out = (a·c − b·s, b·c + a·s) = x·c + swap(x)·(−s, s); backward negates s.
        var sign = backward ? Vector256.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f) : Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
        for (int r = 0; r < rows; r++)
        {
            float* x = src + r * srcStride, y = dst + r * dstStride;
            long tb = (long)(pos0 + r) * pairs;
            int i = 0;
            for (; i < vectorPairs; i += 4)
            {
                var c4 = Vector128.Load(cos + tb + i);
                var s4 = Vector128.Load(sin + tb + i);
                if (scale != null)
                {
                    var k4 = Vector128.Load(scale + tb + i);
                    c4 *= k4;
                    s4 *= k4;
                }
                // Shuffle indices are written in place: constant indices compile to one permute instruction.
                var c = Vector256.Shuffle(Vector256.Create(c4, c4), Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3));
                var s = Vector256.Shuffle(Vector256.Create(s4, s4), Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3)) * sign;
                var v = Vector256.Load(x + 2 * i);
                var result = v * c + Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)) * s;
                if (accumulate) result += Vector256.Load(y + 2 * i);
                result.Store(y + 2 * i);
            }
            for (; i < pairs; i++) RotatePair(x, y, 2 * i, cos[tb + i], sin[tb + i], scale == null ? 1f : scale[tb + i], scale != null, backward, accumulate);
            PassThrough(x, y, rotaryDim, headDim, accumulate);
        }
    }

    /// <summary>One pair (x[j], x[j+1]) → y: the formula every path shares (see <see cref="RotateRows{T}"/>).</summary>
    private static unsafe void RotatePair<T>(T* x, T* y, int j, T c, T s, T k, bool scaled, bool backward, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scaled) { c *= k; s *= k; }
        if (backward) s = -s;
        T a = x[j], b = x[j + 1];
        // a·c + b·(−s) is a·c − b·s exactly (negation is exact), the order the vector path uses.
        T first = a * c + b * -s, second = b * c + a * s;
        if (accumulate) { y[j] += first; y[j + 1] += second; }
        else { y[j] = first; y[j + 1] = second; }
    }

    /// <summary>Dimensions past the rotary part: copied (or added) unchanged.</summary>
    private static unsafe void PassThrough<T>(T* x, T* y, int rotaryDim, int headDim, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (accumulate) for (int j = rotaryDim; j < headDim; j++) y[j] += x[j];
        else if (x != y) for (int j = rotaryDim; j < headDim; j++) y[j] = x[j];
    }
}
