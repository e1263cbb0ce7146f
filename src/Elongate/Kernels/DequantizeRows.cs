using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// Vectorized dequantization of whole runs of GGML blocks to fp32 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16),
/// bit-identical to the scalar reference formulas in <see cref="GgmlQuants"/>: each block's codes are unpacked 16 at a
/// time in a 128-bit byte vector, widened to int32, shifted by the type's integer offset (exact), converted to fp32
/// (exact) and scaled with the same fp32 operations in the same order as the scalar code (a separate multiply and add,
/// never a fused one, since the scalar code rounds twice). The weights of a quantized matmul's prompt path and the
/// loaders that dequantize whole tensors go through here.
/// <para>
/// Why: with the scalar per-block code the old 128-row-panel prompt path reached only 37–50 % of the fp32 GEMM rate
/// for Q5_K and 57–84 % for the others (Zen 5, one thread, rows = 512, CPU-time measured); with this and
/// <see cref="QuantGemm"/> every type runs at about that rate (88–123 % measured; the spread is the shared machine).
/// </para>
/// </summary>
internal static unsafe class DequantizeRows
{
    /// <summary>The widest path this CPU runs: AVX-512 (F, BW), else AVX2, else scalar.</summary>
    public static GemmIsa BestIsa { get; } =
        Avx512F.IsSupported && Avx512BW.IsSupported ? GemmIsa.Avx512 : Avx2.IsSupported ? GemmIsa.Avx2 : GemmIsa.Scalar;

    /// <summary>Whether this CPU can run <paramref name="isa"/> here.</summary>
    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Auto or GemmIsa.Scalar => true,
        GemmIsa.Avx2 => Avx2.IsSupported,
        GemmIsa.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary>True for the types with a vector path here (the others take the scalar code in <see cref="GgmlQuants"/>).</summary>
    public static bool HasVectorPath(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
        or GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.BF16;

    /// <summary>
    /// Dequantizes <paramref name="blocks"/> consecutive blocks of <paramref name="type"/> (for BF16: elements) from <paramref name="src"/> to <paramref name="dst"/>. <paramref name="isa"/> must be
    /// <see cref="GemmIsa.Avx512"/> or <see cref="GemmIsa.Avx2"/> (supported), or <see cref="GemmIsa.Auto"/>; the type must
    /// satisfy <see cref="HasVectorPath"/>.
    /// </summary>
    public static void Run(GgmlType type, byte* src, float* dst, long blocks, GemmIsa isa)
    {
        if (isa == GemmIsa.Auto) isa = BestIsa;
        if (isa is not (GemmIsa.Avx512 or GemmIsa.Avx2) || !IsSupported(isa))
            throw new PlatformNotSupportedException($"vector dequantization path {isa} is not available");
        if (isa == GemmIsa.Avx512) Blocks<Wide512>(type, src, dst, blocks);
        else Blocks<Wide256>(type, src, dst, blocks);
    }

    /// <summary>The per-type block loops, generic over the widening back end so each ISA gets its own inlined copy.</summary>
    private static void Blocks<TW>(GgmlType type, byte* src, float* dst, long blocks) where TW : struct, IWiden
    {
        var lo4 = Vector128.Create((byte)0x0F);
        switch (type)
        {
            case GgmlType.Q4_0:
                for (long b = 0; b < blocks; b++, src += 18, dst += 32)
                {
                    float d = Half(src);
                    var qs = Vector128.Load(src + 2);
                    TW.Emit(qs & lo4, 8, d, dst);
                    TW.Emit(Shr(qs, 4) & lo4, 8, d, dst + 16);
                }
                break;
            case GgmlType.Q4_1:
                for (long b = 0; b < blocks; b++, src += 20, dst += 32)
                {
                    float d = Half(src), m = Half(src + 2);
                    var qs = Vector128.Load(src + 4);
                    TW.EmitAdd(qs & lo4, d, m, dst);
                    TW.EmitAdd(Shr(qs, 4) & lo4, d, m, dst + 16);
                }
                break;
            case GgmlType.Q5_0:
                for (long b = 0; b < blocks; b++, src += 22, dst += 32)
                {
                    float d = Half(src);
                    uint qh = Unsafe.ReadUnaligned<uint>(src + 2);
                    var qs = Vector128.Load(src + 6);
                    TW.Emit((qs & lo4) | FifthBits(qh), 16, d, dst);
                    TW.Emit((Shr(qs, 4) & lo4) | FifthBits(qh >> 16), 16, d, dst + 16);
                }
                break;
            case GgmlType.Q5_1:
                for (long b = 0; b < blocks; b++, src += 24, dst += 32)
                {
                    float d = Half(src), m = Half(src + 2);
                    uint qh = Unsafe.ReadUnaligned<uint>(src + 4);
                    var qs = Vector128.Load(src + 8);
                    TW.EmitAdd((qs & lo4) | FifthBits(qh), d, m, dst);
                    TW.EmitAdd((Shr(qs, 4) & lo4) | FifthBits(qh >> 16), d, m, dst + 16);
                }
                break;
            case GgmlType.Q8_0:
                for (long b = 0; b < blocks; b++, src += 34, dst += 32)
                {
                    float d = Half(src);
                    TW.EmitSigned(Vector128.Load(src + 2).AsSByte(), d, dst);
                    TW.EmitSigned(Vector128.Load(src + 18).AsSByte(), d, dst + 16);
                }
                break;
            case GgmlType.Q4_K:
                for (long b = 0; b < blocks; b++, src += 144, dst += 256)
                    Q4_K<TW>(src, dst);
                break;
            case GgmlType.Q5_K:
                for (long b = 0; b < blocks; b++, src += 176, dst += 256)
                    Q5_K<TW>(src, dst);
                break;
            case GgmlType.Q6_K:
                for (long b = 0; b < blocks; b++, src += 210, dst += 256)
                    Q6_K<TW>(src, dst);
                break;
            case GgmlType.BF16:
                long i = 0;
                for (; i + 16 <= blocks; i += 16) TW.Bf16((ushort*)src + i, dst + i);
                for (; i < blocks; i++) dst[i] = BitConverter.Int32BitsToSingle(((ushort*)src)[i] << 16);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "no vector dequantization for this type");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4_K<TW>(byte* b, float* y) where TW : struct, IWiden
    {
        float d = Half(b), dmin = Half(b + 2);
        var scales = new ReadOnlySpan<byte>(b + 4, 12);
        var lo4 = Vector128.Create((byte)0x0F);
        byte* q = b + 16;
        for (int j = 0; j < 4; j++, q += 32, y += 64)
        {
            var (sc1, m1) = GgmlQuants.ScaleMinK4(2 * j, scales);
            var (sc2, m2) = GgmlQuants.ScaleMinK4(2 * j + 1, scales);
            // Same fp32 expressions as the scalar code: y = d1·q − mm1 with d1 = d·sc, mm1 = dmin·m; −mm1 added is exact.
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            var qa = Vector128.Load(q);
            var qb = Vector128.Load(q + 16);
            TW.EmitAdd(qa & lo4, d1, -mm1, y);
            TW.EmitAdd(qb & lo4, d1, -mm1, y + 16);
            TW.EmitAdd(Shr(qa, 4) & lo4, d2, -mm2, y + 32);
            TW.EmitAdd(Shr(qb, 4) & lo4, d2, -mm2, y + 48);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q5_K<TW>(byte* b, float* y) where TW : struct, IWiden
    {
        float d = Half(b), dmin = Half(b + 2);
        var scales = new ReadOnlySpan<byte>(b + 4, 12);
        var lo4 = Vector128.Create((byte)0x0F);
        var one = Vector128.Create((byte)1);
        var ha = Vector128.Load(b + 16);
        var hb = Vector128.Load(b + 32);
        byte* q = b + 48;
        for (int j = 0; j < 4; j++, q += 32, y += 64)
        {
            var (sc1, m1) = GgmlQuants.ScaleMinK4(2 * j, scales);
            var (sc2, m2) = GgmlQuants.ScaleMinK4(2 * j + 1, scales);
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            var qa = Vector128.Load(q);
            var qb = Vector128.Load(q + 16);
            // Bit 2j of qh[l] is the fifth bit of the low-nibble weight l of group j, bit 2j+1 that of the high nibble.
            int s = 2 * j;
            TW.EmitAdd((qa & lo4) | Shl4(Shr(ha, s) & one), d1, -mm1, y);
            TW.EmitAdd((qb & lo4) | Shl4(Shr(hb, s) & one), d1, -mm1, y + 16);
            TW.EmitAdd(Shr(qa, 4) & lo4 | Shl4(Shr(ha, s + 1) & one), d2, -mm2, y + 32);
            TW.EmitAdd(Shr(qb, 4) & lo4 | Shl4(Shr(hb, s + 1) & one), d2, -mm2, y + 48);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6_K<TW>(byte* b, float* y) where TW : struct, IWiden
    {
        float d = Half(b + 208);
        sbyte* sc = (sbyte*)(b + 192);
        var lo4 = Vector128.Create((byte)0x0F);
        var three = Vector128.Create((byte)3);
        for (int n = 0; n < 2; n++)
        {
            byte* ql = b + 64 * n, qh = b + 128 + 32 * n;
            float* yo = y + 128 * n;
            sbyte* so = sc + 8 * n;
            for (int c = 0; c < 2; c++)
            {
                // Weights l = 16c … 16c+15 of each quarter share one scale (isc = l / 16 in the scalar code).
                var qa = Vector128.Load(ql + 16 * c);
                var qb = Vector128.Load(ql + 32 + 16 * c);
                var h = Vector128.Load(qh + 16 * c);
                TW.Emit((qa & lo4) | Shl4(h & three), 32, d * so[c], yo + 16 * c);
                TW.Emit((qb & lo4) | Shl4(Shr(h, 2) & three), 32, d * so[c + 2], yo + 32 + 16 * c);
                TW.Emit((Shr(qa, 4) & lo4) | Shl4(Shr(h, 4) & three), 32, d * so[c + 4], yo + 64 + 16 * c);
                TW.Emit((Shr(qb, 4) & lo4) | Shl4(Shr(h, 6) & three), 32, d * so[c + 6], yo + 96 + 16 * c);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half(byte* p) => (float)Unsafe.ReadUnaligned<Half>(p);

    /// <summary>Bytes shifted right within their lanes (a 16-bit shift; the caller masks off what crossed from the neighbour).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Shr(Vector128<byte> v, int s) => Vector128.ShiftRightLogical(v.AsUInt16(), s).AsByte();

    /// <summary>Bytes of value ≤ 15 times 16 (a 16-bit shift cannot carry across bytes for such values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Shl4(Vector128<byte> v) => Vector128.ShiftLeft(v.AsUInt16(), 4).AsByte();

    /// <summary>Byte j = 16 if bit j of <paramref name="bits"/> is set, else 0, for j &lt; 16 (Q5_0/Q5_1 fifth bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> FifthBits(uint bits) =>
        Vector128.Create(s_fifthBits[bits & 0xFF], s_fifthBits[(bits >> 8) & 0xFF]).AsByte();

    /// <summary>Entry v: eight bytes, byte k = 16·bit k of v.</summary>
    private static readonly ulong[] s_fifthBits = Enumerable.Range(0, 256)
        .Select(v => Enumerable.Range(0, 8).Aggregate(0UL, (acc, k) => acc | ((ulong)((v >> k) & 1) << (8 * k + 4)))).ToArray();

    /// <summary>Widening back end: 16 byte codes → 16 fp32 values.</summary>
    private interface IWiden
    {
        /// <summary>dst = (code − offset)·scale, codes unsigned.</summary>
        static abstract void Emit(Vector128<byte> codes, int offset, float scale, float* dst);
        /// <summary>dst = code·scale + add (rounded twice, as the scalar code), codes unsigned.</summary>
        static abstract void EmitAdd(Vector128<byte> codes, float scale, float add, float* dst);
        /// <summary>dst = code·scale, codes signed.</summary>
        static abstract void EmitSigned(Vector128<sbyte> codes, float scale, float* dst);
        /// <summary>16 bf16 values to fp32.</summary>
        static abstract void Bf16(ushort* src, float* dst);
    }

    private struct Wide512 : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Emit(Vector128<byte> codes, int offset, float scale, float* dst) =>
            (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(codes) - Vector512.Create(offset)) * Vector512.Create(scale)).Store(dst);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void EmitAdd(Vector128<byte> codes, float scale, float add, float* dst) =>
            (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(codes)) * Vector512.Create(scale) + Vector512.Create(add)).Store(dst);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void EmitSigned(Vector128<sbyte> codes, float scale, float* dst) =>
            (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(codes)) * Vector512.Create(scale)).Store(dst);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Bf16(ushort* src, float* dst) =>
            Vector512.ShiftLeft(Avx512F.ConvertToVector512Int32(Vector256.Load(src)), 16).AsSingle().Store(dst);
    }

    private struct Wide256 : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Emit(Vector128<byte> codes, int offset, float scale, float* dst)
        {
            var o = Vector256.Create(offset);
            var s = Vector256.Create(scale);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(codes) - o) * s).Store(dst);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8)) - o) * s).Store(dst + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void EmitAdd(Vector128<byte> codes, float scale, float add, float* dst)
        {
            var s = Vector256.Create(scale);
            var a = Vector256.Create(add);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(codes)) * s + a).Store(dst);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8))) * s + a).Store(dst + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void EmitSigned(Vector128<sbyte> codes, float scale, float* dst)
        {
            var s = Vector256.Create(scale);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(codes)) * s).Store(dst);
            (Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8))) * s).Store(dst + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Bf16(ushort* src, float* dst)
        {
            Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(Vector128.Load(src)), 16).AsSingle().Store(dst);
            Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(Vector128.Load(src + 8)), 16).AsSingle().Store(dst + 8);
        }
    }
}
