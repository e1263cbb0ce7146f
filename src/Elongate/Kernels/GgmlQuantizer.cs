using System.Buffers.Binary;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// fp32 → Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K by llama.cpp's reference quantizers, the
/// <c>quantize_row_*_ref</c> functions of ggml-quants.c that <c>quantize_q4_K</c> and the others fall back to when
/// llama-quantize runs without an importance matrix. The aim is byte identity with llama.cpp's files, so every
/// step keeps the reference's fp32 operation order: sums accumulate left to right in float, products group as the C
/// expressions do (<c>w*x*l</c> is <c>(w*x)*l</c>), divisions stay divisions rather than multiplications by an
/// inverse, rounding uses <see cref="NearestInt"/> (ties to even through the 1.5·2^23 trick, not
/// <see cref="MathF.Round(float)"/>'s default), and scales are rounded to fp16 round-to-nearest-even exactly where
/// the reference stores them. ggml-base is built without FMA, so no step here may be fused either (RyuJIT never
/// contracts on its own).
/// </summary>
public static class GgmlQuantizer
{
    // llama.cpp's threshold below which a group counts as all zero (GROUP_MAX_EPS in ggml-quants.c).
    private const float GroupMaxEps = 1e-15f;

    // Blocks per parallel work item: big enough that scheduling costs nothing, small enough to spread a 4k×4k matrix.
    private const int BlocksPerChunk = 256;

    /// <summary>True for the types <see cref="Quantize"/> encodes.</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
        or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>
    /// Encodes <paramref name="src"/> (a whole number of blocks) as <paramref name="type"/> into <paramref name="dst"/>
    /// (exactly the encoded size). Blocks are independent, so large inputs are split across threads; the bytes do not
    /// depend on the split.
    /// </summary>
    public static unsafe void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (!IsSupported(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "not a type the reference quantizer encodes");
        int bs = GgmlTypes.BlockSize(type), ts = GgmlTypes.TypeSize(type);
        if (dst.Length != GgmlTypes.ByteCount(type, src.Length))
            throw new ArgumentException($"{dst.Length} bytes do not hold {src.Length} elements of {type}", nameof(dst));
        int nb = src.Length / bs;
        if (nb <= BlocksPerChunk)
        {
            for (int b = 0; b < nb; b++) Block(type, src.Slice(b * bs, bs), dst.Slice(b * ts, ts));
            return;
        }
        fixed (float* ps = src)
        fixed (byte* pd = dst)
        {
            nint s = (nint)ps, d = (nint)pd;
            int chunks = (nb + BlocksPerChunk - 1) / BlocksPerChunk;
            Parallel.For(0, chunks, c =>
            {
                int first = c * BlocksPerChunk, count = Math.Min(BlocksPerChunk, nb - first);
                var x = new ReadOnlySpan<float>((float*)s + (long)first * bs, count * bs);
                var y = new Span<byte>((byte*)d + (long)first * ts, count * ts);
                for (int b = 0; b < count; b++) Block(type, x.Slice(b * bs, bs), y.Slice(b * ts, ts));
            });
        }
    }

    private static void Block(GgmlType type, ReadOnlySpan<float> x, Span<byte> y)
    {
        switch (type)
        {
            case GgmlType.Q4_0: Q4_0(x, y); break;
            case GgmlType.Q4_1: Q4_1(x, y); break;
            case GgmlType.Q5_0: Q5_0(x, y); break;
            case GgmlType.Q5_1: Q5_1(x, y); break;
            case GgmlType.Q4_K: Q4_K(x, y); break;
            case GgmlType.Q5_K: Q5_K(x, y); break;
            default: Q6_K(x, y); break;
        }
    }

    /// <summary>
    /// ggml's nearest_int: adding 1.5·2^23 leaves the rounded integer in the low mantissa bits (ties to even, as the
    /// FPU rounds the sum). Valid for |f| ≤ 2^22, the range the reference asserts.
    /// </summary>
    internal static int NearestInt(float f)
    {
        float v = f + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    private static void WriteHalf(Span<byte> y, int offset, float value) => BinaryPrimitives.WriteHalfLittleEndian(y.Slice(offset), (Half)value);

    private static float ReadHalf(ReadOnlySpan<byte> y, int offset) => (float)BinaryPrimitives.ReadHalfLittleEndian(y.Slice(offset));

    // ---- 32-weight blocks -------------------------------------------------------------------------------------------

    /// <summary>
    /// The signed value of largest magnitude, kept with its sign: Q4_0/Q5_0 map it to level -8/-16 exactly, so the
    /// scale is negative when the extreme is positive. The first of equal magnitudes wins (strict comparison).
    /// </summary>
    private static float SignedMax(ReadOnlySpan<float> x)
    {
        float amax = 0f, max = 0f;
        for (int j = 0; j < x.Length; j++)
        {
            float v = x[j];
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        }
        return max;
    }

    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float d = SignedMax(x) / -8f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        for (int j = 0; j < 16; j++)
        {
            // The reference truncates toward zero after adding 8.5: floor(v + 0.5) for the non-negative sums here.
            int q0 = Math.Min(15, (int)(x[j] * id + 8.5f));
            int q1 = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
            y[2 + j] = (byte)(q0 | (q1 << 4));
        }
    }

    private static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        for (int j = 0; j < x.Length; j++)
        {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        return (min, max);
    }

    private static void Q4_1(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (min, max) = MinMax(x);
        float d = (max - min) / 15f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, min);
        for (int j = 0; j < 16; j++)
        {
            int q0 = Math.Min(15, (int)((x[j] - min) * id + 0.5f));
            int q1 = Math.Min(15, (int)((x[j + 16] - min) * id + 0.5f));
            y[4 + j] = (byte)(q0 | (q1 << 4));
        }
    }

    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        float d = SignedMax(x) / -16f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = Math.Min(31, (int)(x[j] * id + 16.5f));
            int q1 = Math.Min(31, (int)(x[j + 16] * id + 16.5f));
            y[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 >> 4) & 1) << j;          // fifth bits: weight j at bit j, weight j+16 at bit j+16
            qh |= (uint)((q1 >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(y.Slice(2), qh);
    }

    private static void Q5_1(ReadOnlySpan<float> x, Span<byte> y)
    {
        var (min, max) = MinMax(x);
        float d = (max - min) / 31f;
        float id = d != 0f ? 1f / d : 0f;
        WriteHalf(y, 0, d);
        WriteHalf(y, 2, min);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            // No clamp in the reference: (max - min)·id + 0.5 stays below 32 for finite inputs.
            int q0 = (byte)(int)((x[j] - min) * id + 0.5f);
            int q1 = (byte)(int)((x[j + 16] - min) * id + 0.5f);
            y[8 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 >> 4) & 1) << j;
            qh |= (uint)((q1 >> 4) & 1) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(y.Slice(4), qh);
    }

    // ---- k-quant helpers ---------------------------------------------------------------------------------------------

    /// <summary>
    /// make_qkx2_quants: fits x ≈ scale·L − min (L in 0…nmax, min ≥ 0 returned as <paramref name="theMin"/>) by
    /// trying nstep+1 candidate scales around nmax/(max − min) and, for each rounding, the weighted least-squares scale
    /// and offset; keeps the candidate with the smallest weighted squared (or absolute) error.
    /// </summary>
    private static float MakeQkx2Quants(int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L,
        out float theMin, Span<byte> laux, float rmin, float rdelta, int nstep, bool useMad)
    {
        int n = x.Length;
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            L.Slice(0, n).Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    laux.Slice(0, n).CopyTo(L);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>
    /// make_qx_quants with rmse_type 1 and no importance weights (Q6_K's only use): symmetric levels −nmax…nmax−1
    /// stored offset by nmax, the signed extreme at −nmax, then 18 nearby scales tried with x² weights, keeping the one
    /// that maximises (Σw·x·l)²/Σw·l² (the least-squares fit quality).
    /// </summary>
    private static float MakeQxQuants(int nmax, ReadOnlySpan<float> x, Span<sbyte> L)
    {
        int n = x.Length;
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            L.Slice(0, n).Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                {
                    int l = NearestInt(iscale * x[i]);
                    L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>
    /// The part Q4_K and Q5_K share: eight 32-weight sub-blocks fitted by make_qkx2_quants with weights
    /// rms(x) + |x|, their scales and mins quantized to 6 bits against the largest of each (fp16 d and dmin), then
    /// every weight re-rounded against the stored (rounded) scale and min. Fills the 12 packed scale bytes at
    /// y[4..16] and d/dmin at y[0..4]; returns the levels in <paramref name="L"/>.
    /// </summary>
    private static void KQuantScaleMin(ReadOnlySpan<float> x, Span<byte> y, Span<byte> L, int nmax, float rmin, float rdelta, int nstep)
    {
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += xs[l] * xs[l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(xs[l]);
            scales[j] = MakeQkx2Quants(nmax, xs, weights, L.Slice(32 * j, 32), out mins[j], laux, rmin, rdelta, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        var sc = y.Slice(4, 12);
        sc.Clear();
        for (int j = 0; j < 8; j++)
        {
            // The reference stores nearest_int's result in a uint8_t before clamping, so keep that wrap-around.
            int ls = Math.Min(63, (int)(byte)NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, (int)(byte)NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                sc[j] = (byte)ls;
                sc[j + 4] = (byte)lm;
            }
            else
            {
                sc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte)((ls >> 4) << 6);
                sc[j] |= (byte)((lm >> 4) << 6);
            }
        }
        WriteHalf(y, 0, maxScale / 63f);
        WriteHalf(y, 2, maxMin / 63f);
        float dAll = ReadHalf(y, 0), dminAll = ReadHalf(y, 2);
        for (int j = 0; j < 8; j++)
        {
            var (s, m) = GgmlQuants.ScaleMinK4(j, sc);
            float d = dAll * s;
            if (d == 0) continue; // a zero scale leaves make_qkx2_quants' levels in place, as the reference does
            float dm = dminAll * m;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, l));
            }
        }
    }

    private static void Q4_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> L = stackalloc byte[GgmlTypes.QK_K];
        KQuantScaleMin(x, y, L, 15, -1f, 0.1f, 20);
        var q = y.Slice(16, 128);
        for (int j = 0, o = 0; j < GgmlTypes.QK_K; j += 64, o += 32)
            for (int l = 0; l < 32; l++) q[o + l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
    }

    private static void Q5_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> L = stackalloc byte[GgmlTypes.QK_K];
        KQuantScaleMin(x, y, L, 31, -0.5f, 0.1f, 15);
        var qh = y.Slice(16, 32);
        var ql = y.Slice(48, 128);
        qh.Clear();
        int m1 = 1, m2 = 2;
        for (int n = 0, o = 0; n < GgmlTypes.QK_K; n += 64, o += 32)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = L[n + j];
                if (l1 > 15) { l1 -= 16; qh[j] |= (byte)m1; }
                int l2 = L[n + j + 32];
                if (l2 > 15) { l2 -= 16; qh[j] |= (byte)m2; }
                ql[o + j] = (byte)(l1 | (l2 << 4));
            }
            m1 <<= 2; m2 <<= 2;
        }
    }

    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> L = stackalloc sbyte[GgmlTypes.QK_K];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++)
        {
            float scale = MakeQxQuants(32, x.Slice(16 * ib, 16), L.Slice(16 * ib, 16));
            scales[ib] = scale;
            float abs = MathF.Abs(scale);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
        }
        y.Clear();
        if (maxAbsScale < GroupMaxEps) return; // all-zero block: every byte 0, d = +0

        const int ScOff = 192, DOff = 208;
        float iscale = -128f / maxScale;
        WriteHalf(y, DOff, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) y[ScOff + ib] = unchecked((byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib])));
        float dAll = ReadHalf(y, DOff);
        for (int j = 0; j < 16; j++)
        {
            float d = dAll * (sbyte)y[ScOff + j];
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
            {
                int l = NearestInt(x[16 * j + ii] / d);
                l = Math.Max(-32, Math.Min(31, l));
                L[16 * j + ii] = (sbyte)(l + 32);
            }
        }
        var ql = y.Slice(0, 128);
        var qh = y.Slice(128, 64);
        for (int j = 0, lo = 0, ho = 0; j < GgmlTypes.QK_K; j += 128, lo += 64, ho += 32)
        {
            for (int l = 0; l < 32; l++)
            {
                int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
                ql[lo + l] = (byte)((a & 0xF) | ((c & 0xF) << 4));
                ql[lo + l + 32] = (byte)((b & 0xF) | ((e & 0xF) << 4));
                qh[ho + l] = (byte)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}
