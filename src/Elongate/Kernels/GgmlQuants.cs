using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// Block layouts, dequantization and (for the writer) quantization of GGML tensor types. Layouts follow ggml-common.h:
/// every quantized row is a sequence of fixed-size blocks, each holding <see cref="GgmlTypes.BlockSize"/> weights in
/// <see cref="GgmlTypes.TypeSize"/> bytes, little-endian, fp16 scales. Dequantization reproduces ggml's reference
/// <c>dequantize_row_*</c> formulas exactly (same operation order in fp32), so results are bit-identical to llama.cpp's
/// scalar path.
/// </summary>
public static class GgmlQuants
{
    /// <summary>
    /// Converts <paramref name="src"/> (whole blocks of <paramref name="type"/>) to fp32. <paramref name="dst"/>'s length
    /// sets the element count and must match the source's byte count.
    /// </summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst) =>
        Dequantize(type, src, dst, DequantizeRows.BestIsa);

    /// <summary><see cref="Dequantize(GgmlType, ReadOnlySpan{byte}, Span{float})"/> on a forced path (tests):
    /// <see cref="GemmIsa.Scalar"/> runs the reference formulas below, the vector paths <see cref="DequantizeRows"/>.</summary>
    internal static unsafe void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst, GemmIsa isa)
    {
        int bs = GgmlTypes.BlockSize(type), ts = GgmlTypes.TypeSize(type);
        if (dst.Length % bs != 0 || (long)dst.Length / bs * ts != src.Length)
            throw new ArgumentException($"{src.Length} bytes of {type} do not hold {dst.Length} elements");
        int nb = dst.Length / bs;
        if (isa == GemmIsa.Auto) isa = DequantizeRows.BestIsa;
        if (isa != GemmIsa.Scalar && BitConverter.IsLittleEndian && DequantizeRows.HasVectorPath(type) && DequantizeRows.IsSupported(isa))
        {
            fixed (byte* ps = src)
            fixed (float* pd = dst)
                DequantizeRows.Run(type, ps, pd, nb, isa);
            return;
        }
        switch (type)
        {
            case GgmlType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case GgmlType.F32:
                for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(i * 4));
                break;
            case GgmlType.F16 when BitConverter.IsLittleEndian:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst); // vectorised IEEE half → single
                break;
            case GgmlType.F16:
                for (int i = 0; i < dst.Length; i++) dst[i] = Half16(src, i * 2);
                break;
            case GgmlType.BF16:
                for (int i = 0; i < dst.Length; i++) dst[i] = BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(i * 2)));
                break;
            case GgmlType.Q4_0: for (int b = 0; b < nb; b++) Q4_0(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q4_1: for (int b = 0; b < nb; b++) Q4_1(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q5_0: for (int b = 0; b < nb; b++) Q5_0(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q5_1: for (int b = 0; b < nb; b++) Q5_1(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q8_0: for (int b = 0; b < nb; b++) Q8_0(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q4_K: for (int b = 0; b < nb; b++) Q4_K(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q5_K: for (int b = 0; b < nb; b++) Q5_K(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q6_K: for (int b = 0; b < nb; b++) Q6_K(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            case GgmlType.Q8_K: for (int b = 0; b < nb; b++) Q8_K(src.Slice(b * ts, ts), dst.Slice(b * bs, bs)); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported GGML type");
        }
    }

    /// <summary>
    /// Encodes fp32 values as <paramref name="type"/>: F32, F16, BF16, Q8_0, and (through <see cref="GgmlQuantizer"/>,
    /// llama.cpp's reference quantizers) Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K. The element count must be a
    /// multiple of the block size (32, or 256 for the k-quants).
    /// </summary>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> src)
    {
        var dst = new byte[GgmlTypes.ByteCount(type, src.Length)];
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(dst.AsSpan(i * 4), src[i]);
                break;
            case GgmlType.F16:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(dst.AsSpan(i * 2), (Half)src[i]);
                break;
            case GgmlType.BF16:
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(dst.AsSpan(i * 2), SingleToBFloat16(src[i]));
                break;
            case GgmlType.Q8_0:
                for (int b = 0; b < src.Length / GgmlTypes.QK; b++) QuantizeQ8_0Block(src.Slice(b * GgmlTypes.QK, GgmlTypes.QK), dst.AsSpan(b * 34, 34));
                break;
            case GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K:
                GgmlQuantizer.Quantize(type, src, dst);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "the writer quantizes only to F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K");
        }
        return dst;
    }

    /// <summary>
    /// One Q8_0 block by llama.cpp's reference rule (quantize_row_q8_0_ref): d = max|x|/127, q = round(x/d) with
    /// halves away from zero, d stored as fp16. The quotient uses the fp32 d, as the reference does, not the rounded fp16 one.
    /// </summary>
    public static void QuantizeQ8_0Block(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0f;
        for (int j = 0; j < GgmlTypes.QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
        for (int j = 0; j < GgmlTypes.QK; j++) block[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
    }

    /// <summary>bfloat16 → fp32: the bf16 bits are the top half of the fp32 bits.</summary>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>
    /// fp32 → bfloat16 with round-to-nearest-even, NaN kept quiet, as ggml_compute_fp32_to_bf16 and gguf-py do
    /// (plain truncation would bias every weight toward zero).
    /// </summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
    }

    private static float Half16(ReadOnlySpan<byte> s, int offset) => (float)BinaryPrimitives.ReadHalfLittleEndian(s.Slice(offset));

    private static void Q4_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0);
        var qs = b.Slice(2, 16);
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    private static void Q4_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0), m = Half16(b, 2);
        var qs = b.Slice(4, 16);
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    private static void Q5_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(2));
        var qs = b.Slice(6, 16);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;       // bit j is the fifth bit of weight j
            int h1 = (int)(qh >> (j + 12)) & 0x10;       // bit j+16 is the fifth bit of weight j+16
            y[j] = (((qs[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }

    private static void Q5_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0), m = Half16(b, 2);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(4));
        var qs = b.Slice(8, 16);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }

    private static void Q8_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0);
        for (int j = 0; j < GgmlTypes.QK; j++) y[j] = (sbyte)b[2 + j] * d;
    }

    /// <summary>
    /// Unpacks the j-th 6-bit (scale, min) pair of a Q4_K/Q5_K super-block: pairs 0–3 sit in the low 6 bits of bytes
    /// 0–3 / 4–7; pairs 4–7 keep their low 4 bits in bytes 8–11 and their top 2 bits in the spare top bits of bytes 0–7.
    /// </summary>
    internal static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q)
    {
        if (j < 4) return (q[j] & 63, q[j + 4] & 63);
        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }

    private static void Q4_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0), dmin = Half16(b, 2);
        var scales = b.Slice(4, 12);
        var q = b.Slice(16, GgmlTypes.QK_K / 2);
        int yi = 0, qi = 0, sIdx = 0;
        for (int j = 0; j < GgmlTypes.QK_K; j += 64)
        {
            var (sc1, m1) = ScaleMinK4(sIdx, scales);
            var (sc2, m2) = ScaleMinK4(sIdx + 1, scales);
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            for (int l = 0; l < 32; l++) y[yi++] = d1 * (q[qi + l] & 0xF) - mm1;
            for (int l = 0; l < 32; l++) y[yi++] = d2 * (q[qi + l] >> 4) - mm2;
            qi += 32; sIdx += 2;
        }
    }

    private static void Q5_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = Half16(b, 0), dmin = Half16(b, 2);
        var scales = b.Slice(4, 12);
        var qh = b.Slice(16, GgmlTypes.QK_K / 8);
        var ql = b.Slice(48, GgmlTypes.QK_K / 2);
        int yi = 0, qi = 0, sIdx = 0;
        int u1 = 1, u2 = 2;
        for (int j = 0; j < GgmlTypes.QK_K; j += 64)
        {
            var (sc1, m1) = ScaleMinK4(sIdx, scales);
            var (sc2, m2) = ScaleMinK4(sIdx + 1, scales);
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            for (int l = 0; l < 32; l++) y[yi++] = d1 * ((ql[qi + l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - mm1;
            for (int l = 0; l < 32; l++) y[yi++] = d2 * ((ql[qi + l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - mm2;
            qi += 32; sIdx += 2; u1 <<= 2; u2 <<= 2;
        }
    }

    private static void Q6_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var ql = b.Slice(0, GgmlTypes.QK_K / 2);
        var qh = b.Slice(GgmlTypes.QK_K / 2, GgmlTypes.QK_K / 4);
        var sc = b.Slice(GgmlTypes.QK_K / 2 + GgmlTypes.QK_K / 4, GgmlTypes.QK_K / 16);
        float d = Half16(b, GgmlTypes.QK_K / 2 + GgmlTypes.QK_K / 4 + GgmlTypes.QK_K / 16);
        for (int n = 0; n < 2; n++)
        {
            int yo = n * 128, lo = n * 64, ho = n * 32, so = n * 8;
            for (int l = 0; l < 32; l++)
            {
                int isc = l / 16;
                int q1 = ((ql[lo + l] & 0xF) | (((qh[ho + l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[lo + l + 32] & 0xF) | (((qh[ho + l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[lo + l] >> 4) | (((qh[ho + l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[lo + l + 32] >> 4) | (((qh[ho + l] >> 6) & 3) << 4)) - 32;
                y[yo + l] = d * (sbyte)sc[so + isc] * q1;
                y[yo + l + 32] = d * (sbyte)sc[so + isc + 2] * q2;
                y[yo + l + 64] = d * (sbyte)sc[so + isc + 4] * q3;
                y[yo + l + 96] = d * (sbyte)sc[so + isc + 6] * q4;
            }
        }
    }

    private static void Q8_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        float d = BinaryPrimitives.ReadSingleLittleEndian(b);
        for (int j = 0; j < GgmlTypes.QK_K; j++) y[j] = d * (sbyte)b[4 + j];
    }
}
