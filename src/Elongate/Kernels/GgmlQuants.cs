using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Formats;

namespace Elongate.Kernels;

/// <summary>
/// Block layouts, dequantization and (for the writer) quantization of GGML tensor types. Layouts follow ggml-common.h:
/// every quantized row is a sequence of fixed-size blocks, each holding <see cref="BlockSize"/> weights in
/// <see cref="TypeSize"/> bytes, little-endian, fp16 scales. Dequantization reproduces ggml's reference
/// <c>dequantize_row_*</c> formulas exactly (same operation order in fp32), so results are bit-identical to llama.cpp's
/// scalar path.
/// </summary>
public static class GgmlQuants
{
    /// <summary>Weights per super-block of the k-quants.</summary>
    public const int QK_K = 256;

    /// <summary>Weights per block of the legacy quants (Q4_0 … Q8_0).</summary>
    public const int QK = 32;

    /// <summary>True for the types this library can dequantize.</summary>
    public static bool IsSupported(uint type) => type switch
    {
        0 or 1 or 2 or 3 or 6 or 7 or 8 or 12 or 13 or 14 or 15 or 30 => true,
        _ => false,
    };

    /// <summary>ggml's name for a type number, including ones this library cannot read, for error messages.</summary>
    public static string TypeName(uint type) => type switch
    {
        0 => "F32", 1 => "F16", 2 => "Q4_0", 3 => "Q4_1", 4 => "Q4_2 (removed)", 5 => "Q4_3 (removed)", 6 => "Q5_0", 7 => "Q5_1",
        8 => "Q8_0", 9 => "Q8_1", 10 => "Q2_K", 11 => "Q3_K", 12 => "Q4_K", 13 => "Q5_K", 14 => "Q6_K", 15 => "Q8_K",
        16 => "IQ2_XXS", 17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S", 22 => "IQ2_S",
        23 => "IQ4_XS", 24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M", 30 => "BF16",
        34 => "TQ1_0", 35 => "TQ2_0", 39 => "MXFP4",
        _ => $"unknown type {type}",
    };

    /// <summary>Weights per block (1 for the float types).</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 => QK,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => QK_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported GGML type"),
    };

    /// <summary>Bytes per block.</summary>
    public static int TypeSize(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.Q4_0 => 2 + QK / 2,                       // d, 16 nibble pairs
        GgmlType.Q4_1 => 4 + QK / 2,                       // d, m, nibbles
        GgmlType.Q5_0 => 2 + 4 + QK / 2,                   // d, qh (32 high bits), nibbles
        GgmlType.Q5_1 => 4 + 4 + QK / 2,                   // d, m, qh, nibbles
        GgmlType.Q8_0 => 2 + QK,                           // d, 32 int8
        GgmlType.Q4_K => 4 + 12 + QK_K / 2,                // d, dmin, 6-bit scales/mins, nibbles = 144
        GgmlType.Q5_K => 4 + 12 + QK_K / 8 + QK_K / 2,     // + high bits = 176
        GgmlType.Q6_K => QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, // ql, qh, int8 scales, d = 210
        GgmlType.Q8_K => 4 + QK_K + QK_K / 16 * 2,         // fp32 d, int8 qs, int16 bsums = 292
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported GGML type"),
    };

    /// <summary>Bytes of <paramref name="elements"/> weights; <paramref name="elements"/> must be a multiple of the block size.</summary>
    public static long ByteCount(GgmlType type, long elements)
    {
        int bs = BlockSize(type);
        if (elements < 0 || elements % bs != 0)
            throw new ArgumentException($"{elements} elements is not a whole number of {type} blocks of {bs}", nameof(elements));
        return checked(elements / bs * TypeSize(type));
    }

    /// <summary>
    /// Converts <paramref name="src"/> (whole blocks of <paramref name="type"/>) to fp32. <paramref name="dst"/>'s length
    /// sets the element count and must match the source's byte count.
    /// </summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        int bs = BlockSize(type), ts = TypeSize(type);
        if (dst.Length % bs != 0 || (long)dst.Length / bs * ts != src.Length)
            throw new ArgumentException($"{src.Length} bytes of {type} do not hold {dst.Length} elements");
        int nb = dst.Length / bs;
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
    /// Encodes fp32 values as <paramref name="type"/> (F32, F16, BF16 or Q8_0: the types the GGUF writer emits).
    /// The element count must be a multiple of the block size (32 for Q8_0).
    /// </summary>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> src)
    {
        var dst = new byte[ByteCount(type, src.Length)];
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
                for (int b = 0; b < src.Length / QK; b++) QuantizeQ8_0Block(src.Slice(b * QK, QK), dst.AsSpan(b * 34, 34));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "the writer quantizes only to F32, F16, BF16 and Q8_0");
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
        for (int j = 0; j < QK; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
        for (int j = 0; j < QK; j++) block[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
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
        for (int j = 0; j < QK; j++) y[j] = (sbyte)b[2 + j] * d;
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
        var q = b.Slice(16, QK_K / 2);
        int yi = 0, qi = 0, sIdx = 0;
        for (int j = 0; j < QK_K; j += 64)
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
        var qh = b.Slice(16, QK_K / 8);
        var ql = b.Slice(48, QK_K / 2);
        int yi = 0, qi = 0, sIdx = 0;
        int u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64)
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
        var ql = b.Slice(0, QK_K / 2);
        var qh = b.Slice(QK_K / 2, QK_K / 4);
        var sc = b.Slice(QK_K / 2 + QK_K / 4, QK_K / 16);
        float d = Half16(b, QK_K / 2 + QK_K / 4 + QK_K / 16);
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
        for (int j = 0; j < QK_K; j++) y[j] = d * (sbyte)b[4 + j];
    }
}
