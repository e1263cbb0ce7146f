using System.Numerics;

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


    private static void Apply<T>(Span<T> x, int rows, int seqLen, int heads, int headDim, int rotaryDim,
        ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> scale, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int pairs = rotaryDim / 2, width = heads * headDim;
        if (rotaryDim <= 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
            throw new ArgumentException($"rotary dimension {rotaryDim} must be even and within the head size {headDim}");
        if (seqLen <= 0 || x.Length < (long)rows * width) throw new ArgumentException($"x holds {x.Length} values, need [{rows}, {width}]");
        if (cos.Length < (long)seqLen * pairs || sin.Length < (long)seqLen * pairs || (!scale.IsEmpty && scale.Length < (long)seqLen * pairs))
            throw new ArgumentException($"RoPE tables must be [{seqLen}, {pairs}]");
        bool scaled = !scale.IsEmpty;
        for (int r = 0; r < rows; r++)
        {
            int tb = (r % seqLen) * pairs;
            var row = x.Slice(r * width, width);
            for (int i = 0; i < pairs; i++)
            {
                T c = cos[tb + i], s = sin[tb + i];
                if (scaled) { c *= scale[tb + i]; s *= scale[tb + i]; }
                if (backward) s = -s;
                for (int h = 0; h < heads; h++)
                {
                    int j = h * headDim + 2 * i;
                    T a = row[j], b = row[j + 1];
                    row[j] = a * c - b * s;
                    row[j + 1] = a * s + b * c;
                }
            }
        }
    }
}
