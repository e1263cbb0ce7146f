using System.Numerics;
using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// Rotary position embedding on adjacent pairs (2i, 2i+1) of the first d_rot dimensions of each head, driven by a
/// precomputed table so every RoPE variant (plain, NTK, YaRN, LongRoPE, xPos…) is only a different table: cos and
/// sin are [seqLen, d_rot/2] and an optional scale of the same shape multiplies the rotated pair (xPos passes ζ for
/// queries and 1/ζ for keys). The map is linear and orthogonal up to that scale, so the backward is the rotation by
/// −angle times the same scale, applied to the gradient in place; it needs no saved activation. Training applies it to
/// [batch·seqLen] rows with whole tables; inference to one row at a time with that position's table row
/// (<see cref="Rope.RopeTable.ApplyAdjacent(Span{float}, int, Rope.RopeRole, int, int)"/>), so both rotate with the same arithmetic.
/// </summary>
/// <remarks>
/// float rows go four pairs (one 256-bit vector) at a time as x·c + swap(x)·(∓s, ±s): the same two products and one
/// sum per output as the pair formula, rounded separately, so the bits are those of the scalar loop (1.5× faster on
/// the training pass; see docs/kernels-perf.md, which also records why the rotation is not fused into the attention
/// kernels' tile loads).
/// </remarks>
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

    private static unsafe void Apply<T>(Span<T> x, int rows, int seqLen, int heads, int headDim, int rotaryDim,
        ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> scale, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int pairs = rotaryDim / 2, width = heads * headDim;
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
            throw new ArgumentException($"rotary dimension {rotaryDim} must be even and within the head size {headDim}");
        if (seqLen <= 0 || x.Length < (long)rows * width) throw new ArgumentException($"x holds {x.Length} values, need [{rows}, {width}]");
        if (cos.Length < (long)seqLen * pairs || sin.Length < (long)seqLen * pairs || (!scale.IsEmpty && scale.Length < (long)seqLen * pairs))
            throw new ArgumentException($"RoPE tables must be [{seqLen}, {pairs}]");
        fixed (T* px = x, pc = cos, ps = sin, psc = scale)
        {
            T* sc = scale.IsEmpty ? null : psc;
            for (int r = 0; r < rows; r++)
            {
                long tb = (long)(r % seqLen) * pairs;
                T* row = px + (long)r * width;
                if (typeof(T) == typeof(float))
                    RotateRow((float*)row, heads, headDim, pairs, (float*)pc + tb, (float*)ps + tb, (float*)sc + (sc == null ? 0 : tb), backward);
                else
                    for (int h = 0; h < heads; h++)
                        for (int i = 0; i < pairs; i++)
                            RotatePair(row + h * headDim + 2 * i, pc[tb + i], ps[tb + i], sc == null ? T.One : sc[tb + i], sc != null, backward);
            }
        }
    }

    /// <summary>
    /// One float row of <paramref name="heads"/> heads at one position (table rows c, s, k of <paramref name="pairs"/>):
    /// four pairs per 256-bit vector where the CPU has them, <see cref="RotatePair{T}"/> for the rest.
    /// </summary>
    private static unsafe void RotateRow(float* row, int heads, int headDim, int pairs, float* c, float* s, float* k, bool backward)
    {
        int vectorPairs = Vector256.IsHardwareAccelerated ? pairs / 4 * 4 : 0;
        // Forward: (a·c − b·s, b·c + a·s) = x·c + swap(x)·(−s, s); backward negates s.
        var sign = backward ? Vector256.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f) : Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
        for (int i = 0; i < vectorPairs; i += 4)
        {
            var c4 = Vector128.Load(c + i);
            var s4 = Vector128.Load(s + i);
            if (k != null)
            {
                var k4 = Vector128.Load(k + i);
                c4 *= k4;
                s4 *= k4;
            }
            // Shuffle indices written in place: constant indices compile to one permute instruction.
            var cc = Vector256.Shuffle(Vector256.Create(c4, c4), Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3));
            var ss = Vector256.Shuffle(Vector256.Create(s4, s4), Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3)) * sign;
            for (int h = 0; h < heads; h++)
            {
                float* p = row + h * headDim + 2 * i;
                var v = Vector256.Load(p);
                (v * cc + Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)) * ss).Store(p);
            }
        }
        for (int i = vectorPairs; i < pairs; i++)
            for (int h = 0; h < heads; h++)
                RotatePair(row + h * headDim + 2 * i, c[i], s[i], k == null ? 1f : k[i], k != null, backward);
    }

    /// <summary>One pair (x[0], x[1]) in place: c, s scaled by k, s negated for the backward, then (a·c − b·s, a·s + b·c).</summary>
    private static unsafe void RotatePair<T>(T* x, T c, T s, T k, bool scaled, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scaled) { c *= k; s *= k; }
        if (backward) s = -s;
        T a = x[0], b = x[1];
        x[0] = a * c - b * s;
        x[1] = a * s + b * c;
    }
}
