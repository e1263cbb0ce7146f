using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// Rounding fp32 to bfloat16 (the upper 16 bits of an fp32: sign, 8 exponent bits, 7 mantissa bits) the way
/// VCVTNEPS2BF16 and PyTorch's <c>.to(torch.bfloat16)</c> do: round to nearest, ties to even, overflow to ±∞, NaN
/// kept a quiet NaN with its sign. The unit roundoff is 2⁻⁸: |bf16(x) − x| ≤ 2⁻⁸·|x| for every finite x in range.
/// </summary>
public static class Bf16
{
    /// <summary>The fp32 bit pattern of bf16(x): the rounded upper half, lower 16 bits zero.</summary>
    public static uint RoundBits(uint bits) =>
        (bits & 0x7FFF_FFFFu) > 0x7F80_0000u
            ? (bits | 0x0040_0000u) & 0xFFFF_0000u
            : (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF_0000u;

    /// <summary>x rounded to the nearest bfloat16, as the fp32 of the same value.</summary>
    public static float Round(float x) => BitConverter.UInt32BitsToSingle(RoundBits(BitConverter.SingleToUInt32Bits(x)));

    /// <summary>Rounds every element of <paramref name="source"/> to bfloat16 into <paramref name="destination"/> (may be the same span).</summary>
    public static void Round(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination holds {destination.Length} floats, source {source.Length}", nameof(destination));
        for (int i = 0; i < source.Length; i++) destination[i] = Round(source[i]);
    }

    /// <summary><see cref="RoundBits(uint)"/> on 16 lanes.</summary>
    internal static Vector512<uint> RoundBits(Vector512<uint> u)
    {
        var rounded = (u + Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One)) & Vector512.Create(0xFFFF_0000u);
        var quiet = (u | Vector512.Create(0x0040_0000u)) & Vector512.Create(0xFFFF_0000u);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(u & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u)), quiet, rounded);
    }

    /// <summary><see cref="RoundBits(uint)"/> on 8 lanes.</summary>
    internal static Vector256<uint> RoundBits(Vector256<uint> u)
    {
        var rounded = (u + Vector256.Create(0x7FFFu) + ((u >> 16) & Vector256<uint>.One)) & Vector256.Create(0xFFFF_0000u);
        var quiet = (u | Vector256.Create(0x0040_0000u)) & Vector256.Create(0xFFFF_0000u);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(u & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u)), quiet, rounded);
    }

    /// <summary><see cref="RoundBits(uint)"/> on 4 lanes.</summary>
    internal static Vector128<uint> RoundBits(Vector128<uint> u)
    {
        var rounded = (u + Vector128.Create(0x7FFFu) + ((u >> 16) & Vector128<uint>.One)) & Vector128.Create(0xFFFF_0000u);
        var quiet = (u | Vector128.Create(0x0040_0000u)) & Vector128.Create(0xFFFF_0000u);
        return Vector128.ConditionalSelect(Vector128.GreaterThan(u & Vector128.Create(0x7FFF_FFFFu), Vector128.Create(0x7F80_0000u)), quiet, rounded);
    }
}
