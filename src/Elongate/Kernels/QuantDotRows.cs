using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Elongate.Common;
using static Elongate.Kernels.QuantDot;

namespace Elongate.Kernels;

/// <summary>
/// Dot products of <see cref="Rows"/> = 4 consecutive quantized weight rows with one activation row in one pass: the
/// matrix-vector kernel of <see cref="QuantMatMul"/>. Against <see cref="QuantDot.Row"/> (one row per pass) the
/// activation loads, its scale and its block sums are fetched once per block for four rows, the four accumulators are
/// independent chains that hide the FMA/convert latency, and constants stay in registers across four rows' work.
/// Per-block work is also trimmed: a 16-byte Q4 block is unpacked with one broadcast load, one variable shift and one
/// AND; k-quant sub-block scales are spread to int16 lanes with one byte shuffle each from a vector built once per
/// super-block instead of a scalar extract and broadcast per sub-block.
/// <para>
/// Streaming from DRAM, four rows read side by side (four streams each advancing a block at a time) defeated the hardware
/// prefetcher: Q4_0 fell from 13–16 GB/s (one row per pass) to 6–10 GB/s on one Zen 5 core although the kernel was 1.7×
/// faster from cache. So each pass prefetches a following group of four rows (see <see cref="Ahead"/>) linearly, as
/// many bytes per block step as it consumes, which keeps ≥ 3 KiB (9 KiB for 4096-wide Q4_0) in flight.
/// Measured (`bench quant --stream`, ~260 MB of distinct matrices, Zen 5 shared with other jobs, best of 2 runs, one
/// row per pass → four): from cache (1024×1024 Q4_0, 1 thread) 10–12 → 18–19 GB/s; streaming, 1 thread, 134M-model
/// layers: Q4_0 14.2 → 16.7, Q4_K 15.2 → 19.0, Q5_K 14.1 → 18.3, Q6_K 20.4 → 19.6 GB/s (noise level); 2 threads:
/// Q4_0 13.5 → 15.2, Q4_K 13.8 → 23.9, Q5_K 15.1 → 21.7, Q6_K 17.3 → 20.0 GB/s.
/// </para>
/// <para>
/// Each output's arithmetic depends only on its weight row, its activation row and which kernel handles it;
/// <see cref="QuantMatMul"/> sends a given output row always to the same kernel whatever the thread count (chunks are
/// whole groups of four), so results stay bit-identical across thread counts.
/// </para>
/// </summary>
internal static unsafe class QuantDotRows
{
    /// <summary>Weight rows per pass.</summary>
    public const int Rows = 4;

    /// <summary>
    /// Whether <paramref name="type"/> has a four-row kernel on <paramref name="isa"/>. Not Q8_0: it moves the most
    /// bytes per weight, and four interleaved rows lost to one row per pass streaming from DRAM even with the prefetch
    /// (`bench quant --stream`, 1 thread, machine shared: 18–19 GB/s against 23–30 GB/s; 8–12 GB/s without prefetch).
    /// </summary>
    public static bool Supports(GgmlType type, QuantIsa isa) =>
        isa is QuantIsa.AvxVnni or QuantIsa.Avx2 && type is GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>
    /// y[r] = Σ_i W[r, i]·x[i] for the four weight rows at <paramref name="w"/>, <paramref name="w"/> + <paramref name="stride"/>, …
    /// (<paramref name="n"/> elements each); only for types where <see cref="Supports"/> holds.
    /// </summary>
    public static void Dot4(GgmlType type, QuantIsa isa, byte* w, long stride, in Act a, int n, float* y)
    {
        switch (type)
        {
            case GgmlType.Q4_0: if (isa == QuantIsa.AvxVnni) Q4_0<VnniDot>(w, stride, a, n / 32, y); else Q4_0<Avx2Dot>(w, stride, a, n / 32, y); break;
            case GgmlType.Q4_K: KRows<Q4KBlock>(w, stride, a, n / 256, y); break;
            case GgmlType.Q5_K: KRows<Q5KBlock>(w, stride, a, n / 256, y); break;
            case GgmlType.Q6_K: KRows<Q6KBlock>(w, stride, a, n / 256, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "no four-row kernel for this type");
        }
    }

    /// <summary>
    /// Prefetch distance: the next group of four rows (contiguous after this one), or the one after it when a group is
    /// under 3 KiB. Streaming 134M-model layers (768-wide Q4_0, 1.7 KiB groups), 1 thread: 13.2–13.7 GB/s one group
    /// ahead, 14.8–15.4 two ahead; 4096-wide rows: no difference beyond noise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Ahead(long stride) => Rows * stride >= 3072 ? Rows * stride : 2 * Rows * stride;

    /// <summary>32 nibbles of the 16 bytes at <paramref name="p"/>: low nibbles (elements 0–15) in the low lane, high
    /// (16–31) in the high lane. One broadcast load, one per-lane variable shift (0 | 4), one AND.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* p, Vector256<uint> shift, Vector256<byte> low) =>
        Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(p).AsUInt32(), shift).AsByte() & low;

    /// <summary>Shift counts for <see cref="Nibbles"/>: 0 in the low 128-bit lane, 4 in the high one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> NibbleShift() => Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4);

    /// <summary>Converts four fp32 vector accumulators to the four outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        y[0] = Vector256.Sum(a0);
        y[1] = Vector256.Sum(a1);
        y[2] = Vector256.Sum(a2);
        y[3] = Vector256.Sum(a3);
    }

    private static void Q4_0<TD>(byte* w, long stride, in Act a, int nb, float* y) where TD : struct, IByteDot
    {
        float* ht = HalfTable;
        var shift = NibbleShift();
        var low = Vector256.Create((byte)0x0F);
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        sbyte* q = a.Q;
        float* d = a.D;
        int* s = a.Sums32;
        byte* w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        byte* pf = w + Ahead(stride);
        for (int b = 0; b < nb; b++, w += 18, w1 += 18, w2 += 18, w3 += 18, pf += 72)
        {
            // 72 bytes of the next group per 72 bytes consumed here: see the class remarks.
            Sse.Prefetch0(pf + 0);
            Sse.Prefetch0(pf + 64);
            // Shared by the four rows: the activation block, its scale and the −8·Σq offset term (the integer
            // accumulator's start value, so the offset costs no extra instruction per row).
            var x = Vector256.Load(q + 32 * b);
            var dx = Vector256.Create(d[b]);
            var corr = Vector256.CreateScalar(-8 * s[b]);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TD.Dot(corr, Nibbles(w + 2, shift, low), x)), Vector256.Create(Half(ht, w)) * dx, acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TD.Dot(corr, Nibbles(w1 + 2, shift, low), x)), Vector256.Create(Half(ht, w1)) * dx, acc1);
            acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TD.Dot(corr, Nibbles(w2 + 2, shift, low), x)), Vector256.Create(Half(ht, w2)) * dx, acc2);
            acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TD.Dot(corr, Nibbles(w3 + 2, shift, low), x)), Vector256.Create(Half(ht, w3)) * dx, acc3);
        }
        Store(y, acc0, acc1, acc2, acc3);
    }

    /// <summary>Byte-shuffle masks that spread int16 lane k (0–7) of a 128-bit lane over all eight int16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> SpreadMask(int k) => Vector256.Create((ushort)(0x0100 * (2 * k + 1) + 2 * k)).AsByte();

    /// <summary>The eight Q4_K/Q5_K sub-block scales (bytes of <paramref name="scales"/>) as int16 in both 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Scales16(ulong scales)
    {
        var s = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(scales).AsByte());
        return Vector256.Create(s, s);
    }

    /// <summary>Σ over a Q4_K super-block of scale_s·Σ(code·x) as int32 lanes, and the min term, for one weight row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_KBlock(byte* w, sbyte* x, Vector256<short> sums16, float dx, float* ht, Vector256<float> acc)
    {
        ScalesMins(w + 4, out ulong sc, out ulong mn);
        var mins = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Sse2.UnpackLow(Vector128.CreateScalar(mn).AsByte(), Vector128.CreateScalar(mn).AsByte())), sums16);
        var scales = Scales16(sc).AsByte();
        // Unrolled by hand (the JIT does not unroll): the shuffle masks are then constants.
        var sum = Q4_KPair(w + 16, x, scales, 0) + Q4_KPair(w + 48, x + 64, scales, 1)
                + Q4_KPair(w + 80, x + 128, scales, 2) + Q4_KPair(w + 112, x + 192, scales, 3);
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w) * dx), acc);
        return Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(mins), Vector256.Create(Half(ht, w + 2) * dx), acc);
    }

    /// <summary>Sub-blocks 2j (low nibbles) and 2j + 1 (high nibbles) of a Q4_K super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q4_KPair(byte* qs, sbyte* x, Vector256<byte> scales, int j)
    {
        var low = Vector256.Create((byte)0x0F);
        var raw = Vector256.Load(qs);
        var s0 = Avx2.Shuffle(scales, SpreadMask(2 * j)).AsInt16();
        var s1 = Avx2.Shuffle(scales, SpreadMask(2 * j + 1)).AsInt16();
        return Scaled(raw & low, x, s0) + Scaled((raw.AsUInt16() >> 4).AsByte() & low, x + 32, s1);
    }

    /// <summary>As <see cref="Q4_KBlock"/> for Q5_K: the fifth bit of sub-block s is bit s of the 32 qh bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q5_KBlock(byte* w, sbyte* x, Vector256<short> sums16, float dx, float* ht, Vector256<float> acc)
    {
        ScalesMins(w + 4, out ulong sc, out ulong mn);
        var mins = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Sse2.UnpackLow(Vector128.CreateScalar(mn).AsByte(), Vector128.CreateScalar(mn).AsByte())), sums16);
        var scales = Scales16(sc).AsByte();
        var qh = Vector256.Load(w + 16);
        var sum = Q5_KPair(w + 48, qh, x, scales, 0) + Q5_KPair(w + 80, qh, x + 64, scales, 1)
                + Q5_KPair(w + 112, qh, x + 128, scales, 2) + Q5_KPair(w + 144, qh, x + 192, scales, 3);
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w) * dx), acc);
        return Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(mins), Vector256.Create(Half(ht, w + 2) * dx), acc);
    }

    /// <summary>Shifts every 16-bit lane left by <paramref name="k"/> (right by −k when negative); bytes are later masked,
    /// so bits crossing from the neighbouring byte are harmless.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ShiftBits(Vector256<byte> v, int k) =>
        k >= 0 ? (v.AsUInt16() << k).AsByte() : (v.AsUInt16() >> -k).AsByte();

    /// <summary>Sub-blocks 2j and 2j + 1 of a Q5_K super-block; bit 2j (2j + 1) of each qh byte is moved to bit 4
    /// (0x10) with one shift and one AND.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q5_KPair(byte* qs, Vector256<byte> qh, sbyte* x, Vector256<byte> scales, int j)
    {
        var low = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)0x10);
        var raw = Vector256.Load(qs);
        var lo = (raw & low) | (ShiftBits(qh, 4 - 2 * j) & sixteen);
        var hi = ((raw.AsUInt16() >> 4).AsByte() & low) | (ShiftBits(qh, 3 - 2 * j) & sixteen);
        var s0 = Avx2.Shuffle(scales, SpreadMask(2 * j)).AsInt16();
        var s1 = Avx2.Shuffle(scales, SpreadMask(2 * j + 1)).AsInt16();
        return Scaled(lo, x, s0) + Scaled(hi, x + 32, s1);
    }

    /// <summary>Byte-shuffle mask giving int16 lane <paramref name="k"/> of the low 128-bit lane to the low half and lane
    /// k + 1 of the high 128-bit lane (holding the same eight scales) to the high half: the two 16-element scales of a
    /// 32-element Q6_K group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> PairMask(int k) => Vector256.Create(
        Vector128.Create((ushort)(0x0100 * (2 * k + 1) + 2 * k)).AsByte(),
        Vector128.Create((ushort)(0x0100 * (2 * k + 3) + 2 * k + 2)).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KBlock(byte* w, sbyte* x, Vector256<short> sums16, float dx, float* ht, Vector256<float> acc)
    {
        sbyte* sc = (sbyte*)(w + 192);
        // Codes are stored +32: Σ sc_g·Σ (c − 32)·x = Σ sc_g·Σ c·x − 32·Σ sc_g·Σx, the last from the 16-element sums.
        var offset = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(sc), sums16);
        var sum = Vector256<int>.Zero;
        for (int n = 0; n < 2; n++)
        {
            var s8 = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(*(ulong*)(sc + 8 * n)).AsSByte());
            var scales = Vector256.Create(s8, s8).AsByte();
            Q6Codes(w, n, out var c1, out var c2, out var c3, out var c4);
            sbyte* xn = x + 128 * n;
            sum += Scaled(c1, xn, Avx2.Shuffle(scales, PairMask(0)).AsInt16()) + Scaled(c2, xn + 32, Avx2.Shuffle(scales, PairMask(2)).AsInt16())
                 + Scaled(c3, xn + 64, Avx2.Shuffle(scales, PairMask(4)).AsInt16()) + Scaled(c4, xn + 96, Avx2.Shuffle(scales, PairMask(6)).AsInt16());
        }
        sum -= offset << 5;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w + 208) * dx), acc);
    }

    /// <summary>One k-quant super-block kernel (256 weights) for <see cref="KRows{TBlock}"/>.</summary>
    private interface IKBlock
    {
        /// <summary>Bytes per super-block.</summary>
        static abstract int Bytes { get; }

        /// <summary>acc + this super-block's contribution (weights at w, activations at x with their 16-sums and scale dx).</summary>
        static abstract Vector256<float> Block(byte* w, sbyte* x, Vector256<short> sums16, float dx, float* ht, Vector256<float> acc);
    }

    private struct Q4KBlock : IKBlock
    {
        public static int Bytes => 144;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Block(byte* w, sbyte* x, Vector256<short> s, float dx, float* ht, Vector256<float> acc) => Q4_KBlock(w, x, s, dx, ht, acc);
    }

    private struct Q5KBlock : IKBlock
    {
        public static int Bytes => 176;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Block(byte* w, sbyte* x, Vector256<short> s, float dx, float* ht, Vector256<float> acc) => Q5_KBlock(w, x, s, dx, ht, acc);
    }

    private struct Q6KBlock : IKBlock
    {
        public static int Bytes => 210;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Block(byte* w, sbyte* x, Vector256<short> s, float dx, float* ht, Vector256<float> acc) => Q6_KBlock(w, x, s, dx, ht, acc);
    }

    /// <summary>The four-row pass for a k-quant: per super-block, prefetch as many bytes of a following group as are
    /// consumed here (see <see cref="Ahead"/>), then one block kernel call per row on the shared activation block.</summary>
    private static void KRows<TBlock>(byte* w, long stride, in Act a, int nb, float* y) where TBlock : struct, IKBlock
    {
        float* ht = HalfTable;
        int bytes = TBlock.Bytes, group = Rows * TBlock.Bytes;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        byte* w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        byte* pf = w + Ahead(stride);
        for (int b = 0; b < nb; b++, w += bytes, w1 += bytes, w2 += bytes, w3 += bytes, pf += group)
        {
            for (int p = 0; p < group; p += 64) Sse.Prefetch0(pf + p);
            float dx = a.D[b];
            sbyte* x = a.Q + 256 * b;
            var sums16 = Vector256.Load(a.Sums16 + 16 * b);
            acc0 = TBlock.Block(w, x, sums16, dx, ht, acc0);
            acc1 = TBlock.Block(w1, x, sums16, dx, ht, acc1);
            acc2 = TBlock.Block(w2, x, sums16, dx, ht, acc2);
            acc3 = TBlock.Block(w3, x, sums16, dx, ht, acc3);
        }
        Store(y, acc0, acc1, acc2, acc3);
    }
}
