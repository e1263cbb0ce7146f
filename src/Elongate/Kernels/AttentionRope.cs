using System.Numerics;

namespace Elongate.Kernels;

/// <summary>
/// RoPE for <see cref="FlashAttention.Forward{T}"/> and <see cref="FlashAttention.Backward{T}"/> to apply themselves:
/// the kernels take the un-rotated q and k, rotate each query and key tile (query row t, key row s at positions t and s
/// of the tables) as they load it, and in the backward rotate the gradients back (the transposed rotation) as they
/// store dQ and dK, so those are gradients with respect to the un-rotated q and k. That is the same map as
/// <see cref="RopeRotation.Forward{T}"/> on q and k before the attention and <see cref="RopeRotation.Backward{T}"/>
/// on dq and dk after it, without those four passes over memory and without a rotated copy to keep for the backward.
/// Tables as in <see cref="RopeRotation"/>: cos and sin [seqLen, rotaryDim/2]; the optional scales (xPos: ζ for
/// queries, 1/ζ for keys) of the same shape. The default value means no rotation.
/// </summary>
public readonly ref struct AttentionRope<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Tables for rotating the first <paramref name="rotaryDim"/> dimensions of every query and key head.</summary>
    /// <param name="queryScale">Per-position, per-pair scale of the queries, or empty for none.</param>
    /// <param name="keyScale">Per-position, per-pair scale of the keys, or empty for none.</param>
    public AttentionRope(int rotaryDim, ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, ReadOnlySpan<T> queryScale = default, ReadOnlySpan<T> keyScale = default)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new ArgumentException($"rotary dimension {rotaryDim} must be positive and even", nameof(rotaryDim));
        RotaryDim = rotaryDim;
        Cos = cos;
        Sin = sin;
        QueryScale = queryScale;
        KeyScale = keyScale;
    }

    /// <summary>Leading dimensions of each head that are rotated (pairs (2i, 2i+1)); 0 when there is no rotation.</summary>
    public int RotaryDim { get; }

    /// <summary>cos of the angle, [seqLen, RotaryDim/2].</summary>
    public ReadOnlySpan<T> Cos { get; }

    /// <summary>sin of the angle, [seqLen, RotaryDim/2].</summary>
    public ReadOnlySpan<T> Sin { get; }

    /// <summary>Scale of the rotated query pairs, or empty.</summary>
    public ReadOnlySpan<T> QueryScale { get; }

    /// <summary>Scale of the rotated key pairs, or empty.</summary>
    public ReadOnlySpan<T> KeyScale { get; }

    /// <summary>True when the attention is to rotate q and k.</summary>
    public bool Enabled => RotaryDim > 0;

    /// <summary>Throws unless the tables cover <paramref name="seqLen"/> positions of a head of <paramref name="headDim"/>.</summary>
    internal void Check(int seqLen, int headDim)
    {
        RopeRotation.CheckTables(seqLen, headDim, RotaryDim, Cos.Length, Sin.Length, QueryScale.Length);
        RopeRotation.CheckTables(seqLen, headDim, RotaryDim, Cos.Length, Sin.Length, KeyScale.Length);
    }
}
