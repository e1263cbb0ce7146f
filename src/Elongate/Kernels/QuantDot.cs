using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// Dot product of one quantized weight row with one activation row, per GGML type and instruction-set path — the inner
/// kernel of <see cref="QuantMatMul"/>. Integer types meet int8 activations from <see cref="ActivationQuantizer"/>:
/// per block the weight codes are unpacked to unsigned bytes (the type's offset, e.g. Q4_0's −8, is not subtracted
/// per element but folded in once per block through the activation block sum Σq), multiplied with the int8 activations
/// into int32 lanes, and the lanes are scaled by d_w·d_x into an fp32 vector accumulator, reduced once per row.
/// Unsigned weight codes keep vpmaddubsw from saturating: |pair| ≤ 2·63·127 &lt; 2¹⁵ even for Q6_K's 6-bit codes.
/// Float types (F16, BF16) are widened to fp32 in registers and FMA'd with fp32 activations.
/// Each output's arithmetic depends only on its weight row and activation row, never on how rows are split over
/// threads, so results are bit-identical for any thread count.
/// </summary>
internal static unsafe class QuantDot
{
    /// <summary>The activation row in the layout the weight type needs.</summary>
    public readonly struct Act(sbyte* q, float* d, int* sums32, short* sums16, float* x)
    {
        /// <summary>int8 codes.</summary>
        public readonly sbyte* Q = q;
        /// <summary>Scale per 32-block (legacy quants) or per 256-super-block (k-quants).</summary>
        public readonly float* D = d;
        /// <summary>Σq per 32-block (legacy quants).</summary>
        public readonly int* Sums32 = sums32;
        /// <summary>Σq per 16 elements (k-quants).</summary>
        public readonly short* Sums16 = sums16;
        /// <summary>The fp32 row itself (float weight types).</summary>
        public readonly float* X = x;
    }

    /// <summary>Whether activations for <paramref name="type"/> are quantized in 256-element super-blocks.</summary>
    public static bool IsKQuant(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Whether <paramref name="type"/> is dotted against int8 activations at all.</summary>
    public static bool IsInteger(GgmlType type) => type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);

    /// <summary>Σ_i W[i]·x[i] over <paramref name="n"/> elements of one weight row of <paramref name="type"/>.</summary>
    public static float Row(GgmlType type, QuantIsa isa, byte* w, in Act a, int n)
    {
        if (isa == QuantIsa.Scalar) return Scalar(type, w, a, n);
        bool vnni = isa == QuantIsa.AvxVnni;
        return type switch
        {
            GgmlType.Q4_0 => vnni ? Q4_0<VnniDot>(w, a, n / 32) : Q4_0<Avx2Dot>(w, a, n / 32),
            GgmlType.Q4_1 => vnni ? Q4_1<VnniDot>(w, a, n / 32) : Q4_1<Avx2Dot>(w, a, n / 32),
            GgmlType.Q5_0 => vnni ? Q5_0<VnniDot>(w, a, n / 32) : Q5_0<Avx2Dot>(w, a, n / 32),
            GgmlType.Q5_1 => vnni ? Q5_1<VnniDot>(w, a, n / 32) : Q5_1<Avx2Dot>(w, a, n / 32),
            GgmlType.Q8_0 => vnni ? Q8_0<VnniDot>(w, a, n / 32) : Q8_0<Avx2Dot>(w, a, n / 32),
            GgmlType.Q4_K => Q4_K(w, a, n / 256),
            GgmlType.Q5_K => Q5_K(w, a, n / 256),
            GgmlType.Q6_K => Q6_K(w, a, n / 256),
            GgmlType.F16 => F16(w, a.X, n),
            GgmlType.BF16 => BF16(w, a.X, n),
            GgmlType.F32 => F32((float*)w, a.X, n),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no quantized dot product for this type"),
        };
    }

    /// <summary>fp16 → fp32 exactly for finite values: the exponent field moves to fp32's low exponent bits and
    /// multiplying by 2¹¹² re-biases it (subnormal halves become exact fp32 normals). Avoids .NET's software Half cast.</summary>
    private const float Rebias = 5.192296858534828e33f; // 2¹¹², exactly representable

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Half(ushort h) => BitConverter.Int32BitsToSingle(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * Rebias;

    /// <summary>
    /// fp16 → fp32 for every bit pattern (256 KiB). A block scale is then one load instead of ~7 integer ops: that was
    /// a quarter of the Q4_0 inner loop. Real scales span a narrow exponent range, so the lines in use stay in L1.
    /// </summary>
    private static readonly float* s_halfTable = BuildHalfTable();

    /// <summary>The fp16 → fp32 table; copy it into a local before a loop (see <see cref="Half(float*, byte*)"/>).</summary>
    internal static float* HalfTable => s_halfTable;

    private static float* BuildHalfTable()
    {
        var t = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>Table lookup; kernels copy <see cref="s_halfTable"/> into a local first, so the loop carries no
    /// class-initialization check (which made the JIT spill the accumulators around it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(float* table, byte* p) => table[*(ushort*)p];

    /// <summary>Unsigned × signed byte products summed in fours into int32 lanes, added to acc.</summary>
    internal interface IByteDot
    {
        static abstract Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s);
    }

    internal struct VnniDot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s) => AvxVnni.MultiplyWideningAndAdd(acc, u, s);
    }

    internal struct Avx2Dot : IByteDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> s) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One));
    }

    /// <summary>32 nibbles of a 16-byte legacy block, low nibbles (elements 0–15) then high (16–31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* p)
    {
        var raw = Vector128.Load(p);
        var m = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & m, (raw.AsUInt16() >> 4).AsByte() & m);
    }

    /// <summary>0x10 in byte j where bit j of <paramref name="qh"/> is set: the fifth bit of Q5_0/Q5_1 codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> FifthBits(uint qh)
    {
        var spread = Avx2.Shuffle(Vector256.Create(qh).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bits = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & bits, bits) & Vector256.Create((byte)0x10);
    }

    private static float Q4_0<TD>(byte* w, in Act a, int nb) where TD : struct, IByteDot
    {
        float* ht = s_halfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        sbyte* q = a.Q;
        float* d = a.D;
        int* s = a.Sums32;
        int b = 0;
        // Two independent accumulators so consecutive blocks' FMAs do not wait on each other.
        for (; b + 2 <= nb; b += 2, w += 36)
        {
            var i0 = TD.Dot(Vector256.CreateScalar(-8 * s[b]), Nibbles(w + 2), Vector256.Load(q + 32 * b));
            var i1 = TD.Dot(Vector256.CreateScalar(-8 * s[b + 1]), Nibbles(w + 20), Vector256.Load(q + 32 * b + 32));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Vector256.Create(Half(ht, w) * d[b]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), Vector256.Create(Half(ht, w + 18) * d[b + 1]), acc1);
        }
        if (b < nb)
        {
            var i0 = TD.Dot(Vector256.CreateScalar(-8 * s[b]), Nibbles(w + 2), Vector256.Load(q + 32 * b));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Vector256.Create(Half(ht, w) * d[b]), acc0);
        }
        return Vector256.Sum(acc0 + acc1);
    }

    private static float Q4_1<TD>(byte* w, in Act a, int nb) where TD : struct, IByteDot
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        float mins = 0f;
        for (int b = 0; b < nb; b++, w += 20)
        {
            var i = TD.Dot(Vector256<int>.Zero, Nibbles(w + 4), Vector256.Load(a.Q + 32 * b));
            float dx = a.D[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), Vector256.Create(Half(ht, w) * dx), acc);
            mins += Half(ht, w + 2) * dx * a.Sums32[b];
        }
        return Vector256.Sum(acc) + mins;
    }

    private static float Q5_0<TD>(byte* w, in Act a, int nb) where TD : struct, IByteDot
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += 22)
        {
            var codes = Nibbles(w + 6) | FifthBits(*(uint*)(w + 2));
            var i = TD.Dot(Vector256.CreateScalar(-16 * a.Sums32[b]), codes, Vector256.Load(a.Q + 32 * b));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), Vector256.Create(Half(ht, w) * a.D[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    private static float Q5_1<TD>(byte* w, in Act a, int nb) where TD : struct, IByteDot
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        float mins = 0f;
        for (int b = 0; b < nb; b++, w += 24)
        {
            var codes = Nibbles(w + 8) | FifthBits(*(uint*)(w + 4));
            var i = TD.Dot(Vector256<int>.Zero, codes, Vector256.Load(a.Q + 32 * b));
            float dx = a.D[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), Vector256.Create(Half(ht, w) * dx), acc);
            mins += Half(ht, w + 2) * dx * a.Sums32[b];
        }
        return Vector256.Sum(acc) + mins;
    }

    private static float Q8_0<TD>(byte* w, in Act a, int nb) where TD : struct, IByteDot
    {
        float* ht = s_halfTable;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int b = 0;
        // Signed × signed: |w| × (x with w's sign), the usual trick to feed an unsigned×signed instruction.
        for (; b + 2 <= nb; b += 2, w += 68)
        {
            var w0 = Vector256.Load((sbyte*)(w + 2));
            var w1 = Vector256.Load((sbyte*)(w + 36));
            var i0 = TD.Dot(Vector256<int>.Zero, Avx2.Abs(w0), Avx2.Sign(Vector256.Load(a.Q + 32 * b), w0));
            var i1 = TD.Dot(Vector256<int>.Zero, Avx2.Abs(w1), Avx2.Sign(Vector256.Load(a.Q + 32 * b + 32), w1));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Vector256.Create(Half(ht, w) * a.D[b]), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), Vector256.Create(Half(ht, w + 34) * a.D[b + 1]), acc1);
        }
        if (b < nb)
        {
            var w0 = Vector256.Load((sbyte*)(w + 2));
            var i0 = TD.Dot(Vector256<int>.Zero, Avx2.Abs(w0), Avx2.Sign(Vector256.Load(a.Q + 32 * b), w0));
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), Vector256.Create(Half(ht, w) * a.D[b]), acc0);
        }
        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>Unsigned codes × int8 activations, pairs summed to int16 (no saturation for ≤ 6-bit codes), then × a per-lane int16 scale into int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Scaled(Vector256<byte> u, sbyte* x, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Vector256.Load(x)), scale);

    /// <summary>
    /// The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block from its 12 packed bytes, as two little-endian
    /// 64-bit words of one byte each (see <see cref="GgmlQuants.ScaleMinK4"/> for the layout).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScalesMins(byte* p, out ulong scales, out ulong mins)
    {
        uint w0 = *(uint*)p, w1 = *(uint*)(p + 4), w2 = *(uint*)(p + 8);
        uint sLo = w0 & 0x3f3f3f3f, mLo = w1 & 0x3f3f3f3f;
        uint sHi = (w2 & 0x0f0f0f0f) | (((w0 >> 6) & 0x03030303) << 4);
        uint mHi = ((w2 >> 4) & 0x0f0f0f0f) | (((w1 >> 6) & 0x03030303) << 4);
        scales = sLo | ((ulong)sHi << 32);
        mins = mLo | ((ulong)mHi << 32);
    }

    /// <summary>Σ_s min_s·(Σq over sub-block s of 32) as 8 int32 lanes, from the activation's 16-element sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> MinTerms(ulong mins, short* sums16)
    {
        var m = Vector128.CreateScalar(mins).AsByte();
        var pairs = Avx2.ConvertToVector256Int16(Sse2.UnpackLow(m, m)); // m0 m0 m1 m1 … m7 m7 as int16
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Load(sums16));
    }

    private static float Q4_K(byte* w, in Act a, int nb)
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        for (int b = 0; b < nb; b++, w += 144)
        {
            float dx = a.D[b];
            ScalesMins(w + 4, out ulong sc, out ulong mn);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinTerms(mn, a.Sums16 + 16 * b)), Vector256.Create(Half(ht, w + 2) * dx), accMin);
            sbyte* x = a.Q + 256 * b;
            var sum = Vector256<int>.Zero;
            for (int j = 0; j < 4; j++)
            {
                var raw = Vector256.Load(w + 16 + 32 * j);
                var s0 = Vector256.Create((short)(byte)(sc >> (16 * j)));
                var s1 = Vector256.Create((short)(byte)(sc >> (16 * j + 8)));
                sum += Scaled(raw & low, x + 64 * j, s0) + Scaled((raw.AsUInt16() >> 4).AsByte() & low, x + 64 * j + 32, s1);
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w) * dx), acc);
        }
        return Vector256.Sum(acc) - Vector256.Sum(accMin);
    }

    private static float Q5_K(byte* w, in Act a, int nb)
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)0x10);
        for (int b = 0; b < nb; b++, w += 176)
        {
            float dx = a.D[b];
            ScalesMins(w + 4, out ulong sc, out ulong mn);
            accMin = Fma.MultiplyAdd(Avx.ConvertToVector256Single(MinTerms(mn, a.Sums16 + 16 * b)), Vector256.Create(Half(ht, w + 2) * dx), accMin);
            sbyte* x = a.Q + 256 * b;
            var qh = Vector256.Load(w + 16);
            var sum = Vector256<int>.Zero;
            for (int j = 0; j < 4; j++)
            {
                var raw = Vector256.Load(w + 48 + 32 * j);
                var b0 = Vector256.Create((byte)(1 << (2 * j)));
                var b1 = Vector256.Create((byte)(2 << (2 * j)));
                var lo = (raw & low) | (Vector256.Equals(qh & b0, b0) & sixteen);
                var hi = ((raw.AsUInt16() >> 4).AsByte() & low) | (Vector256.Equals(qh & b1, b1) & sixteen);
                var s0 = Vector256.Create((short)(byte)(sc >> (16 * j)));
                var s1 = Vector256.Create((short)(byte)(sc >> (16 * j + 8)));
                sum += Scaled(lo, x + 64 * j, s0) + Scaled(hi, x + 64 * j + 32, s1);
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w) * dx), acc);
        }
        return Vector256.Sum(acc) - Vector256.Sum(accMin);
    }

    /// <summary>
    /// The 128 six-bit codes of half <paramref name="n"/> (0 or 1) of a Q6_K super-block, stored +32: low four bits from
    /// ql, top two from qh, as four vectors of 32 codes (elements 128n + 0–31, 32–63, 64–95, 96–127).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q6Codes(byte* w, int n, out Vector256<byte> c1, out Vector256<byte> c2, out Vector256<byte> c3, out Vector256<byte> c4)
    {
        var low = Vector256.Create((byte)0x0F);
        var top = Vector256.Create((byte)0x30);
        var l0 = Vector256.Load(w + 64 * n);
        var l1 = Vector256.Load(w + 64 * n + 32);
        var qh = Vector256.Load(w + 128 + 32 * n).AsUInt16();
        c1 = (l0 & low) | ((qh << 4).AsByte() & top);
        c2 = (l1 & low) | ((qh << 2).AsByte() & top);
        c3 = ((l0.AsUInt16() >> 4).AsByte() & low) | (qh.AsByte() & top);
        c4 = ((l1.AsUInt16() >> 4).AsByte() & low) | ((qh >> 2).AsByte() & top);
    }

    private static float Q6_K(byte* w, in Act a, int nb)
    {
        float* ht = s_halfTable;
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += 210)
        {
            sbyte* sc = (sbyte*)(w + 192);
            sbyte* x = a.Q + 256 * b;
            // Codes are stored +32: Σ sc_g·Σ (c − 32)·x = Σ sc_g·Σ c·x − 32·Σ sc_g·Σx, the last from the 16-element sums.
            var offset = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(sc)), Vector256.Load(a.Sums16 + 16 * b));
            var sum = Vector256<int>.Zero;
            for (int n = 0; n < 2; n++)
            {
                Q6Codes(w, n, out var c1, out var c2, out var c3, out var c4);
                sbyte* s = sc + 8 * n;
                sbyte* xn = x + 128 * n;
                sum += Scaled(c1, xn, Pair(s[0], s[1])) + Scaled(c2, xn + 32, Pair(s[2], s[3]))
                     + Scaled(c3, xn + 64, Pair(s[4], s[5])) + Scaled(c4, xn + 96, Pair(s[6], s[7]));
            }
            sum -= offset << 5;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), Vector256.Create(Half(ht, w + 208) * a.D[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Int16 lanes 0–7 = <paramref name="a"/>, 8–15 = <paramref name="b"/>: the two 16-element scales of a 32-element Q6_K group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Pair(sbyte a, sbyte b) => Vector256.Create(Vector128.Create((short)a), Vector128.Create((short)b));

    private static float F16(byte* w, float* x, int n)
    {
        ushort* h = (ushort*)w;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(Widen(Vector128.Load(h + i)), Vector256.Load(x + i), acc0);
            acc1 = Fma.MultiplyAdd(Widen(Vector128.Load(h + i + 8)), Vector256.Load(x + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(Widen(Vector128.Load(h + i)), Vector256.Load(x + i), acc0);
        float s = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) s += Half(h[i]) * x[i];
        return s;

        // Eight halves to fp32 with the same exponent re-bias as the scalar Half().
        static Vector256<float> Widen(Vector128<ushort> v)
        {
            var u = Avx2.ConvertToVector256Int32(v);
            var bits = ((u & Vector256.Create(0x8000)) << 16) | ((u & Vector256.Create(0x7fff)) << 13);
            return bits.AsSingle() * Vector256.Create(Rebias);
        }
    }

    private static float BF16(byte* w, float* x, int n)
    {
        ushort* h = (ushort*)w;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd((Avx2.ConvertToVector256Int32(Vector128.Load(h + i)) << 16).AsSingle(), Vector256.Load(x + i), acc0);
            acc1 = Fma.MultiplyAdd((Avx2.ConvertToVector256Int32(Vector128.Load(h + i + 8)) << 16).AsSingle(), Vector256.Load(x + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8)
            acc0 = Fma.MultiplyAdd((Avx2.ConvertToVector256Int32(Vector128.Load(h + i)) << 16).AsSingle(), Vector256.Load(x + i), acc0);
        float s = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) s += BitConverter.Int32BitsToSingle(h[i] << 16) * x[i];
        return s;
    }

    private static float F32(float* w, float* x, int n)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Fma.MultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Load(w + i + 8), Vector256.Load(x + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Fma.MultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), acc0);
        float s = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) s += w[i] * x[i];
        return s;
    }

    /// <summary>
    /// The portable path: the same integer sums as the vector code, per block, in plain C#. Used where AVX2 is absent
    /// and by the tests as a second implementation.
    /// </summary>
    private static float Scalar(GgmlType type, byte* w, in Act a, int n)
    {
        float* ht = s_halfTable;
        float total = 0f;
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < n; i++) total += ((float*)w)[i] * a.X[i];
                return total;
            case GgmlType.F16:
                for (int i = 0; i < n; i++) total += Half(((ushort*)w)[i]) * a.X[i];
                return total;
            case GgmlType.BF16:
                for (int i = 0; i < n; i++) total += BitConverter.Int32BitsToSingle(((ushort*)w)[i] << 16) * a.X[i];
                return total;
        }
        int ts = GgmlTypes.TypeSize(type);
        if (!IsKQuant(type))
        {
            for (int b = 0; b < n / 32; b++, w += ts)
            {
                sbyte* x = a.Q + 32 * b;
                float dx = a.D[b];
                int sum = 0;
                switch (type)
                {
                    case GgmlType.Q8_0:
                        for (int j = 0; j < 32; j++) sum += ((sbyte*)w)[2 + j] * x[j];
                        total += Half(ht, w) * dx * sum;
                        break;
                    case GgmlType.Q4_0 or GgmlType.Q4_1:
                    {
                        byte* qs = w + (type == GgmlType.Q4_0 ? 2 : 4);
                        for (int j = 0; j < 16; j++) sum += (qs[j] & 0xF) * x[j] + (qs[j] >> 4) * x[j + 16];
                        if (type == GgmlType.Q4_0) total += Half(ht, w) * dx * (sum - 8 * a.Sums32[b]);
                        else total += Half(ht, w) * dx * sum + Half(ht, w + 2) * dx * a.Sums32[b];
                        break;
                    }
                    default: // Q5_0, Q5_1
                    {
                        bool q50 = type == GgmlType.Q5_0;
                        uint qh = *(uint*)(w + (q50 ? 2 : 4));
                        byte* qs = w + (q50 ? 6 : 8);
                        for (int j = 0; j < 16; j++)
                        {
                            int c0 = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
                            int c1 = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                            sum += c0 * x[j] + c1 * x[j + 16];
                        }
                        if (q50) total += Half(ht, w) * dx * (sum - 16 * a.Sums32[b]);
                        else total += Half(ht, w) * dx * sum + Half(ht, w + 2) * dx * a.Sums32[b];
                        break;
                    }
                }
            }
            return total;
        }
        for (int b = 0; b < n / 256; b++, w += ts)
        {
            sbyte* x = a.Q + 256 * b;
            short* s16 = a.Sums16 + 16 * b;
            float dx = a.D[b];
            if (type == GgmlType.Q6_K)
            {
                sbyte* sc = (sbyte*)(w + 192);
                int sum = 0;
                for (int n2 = 0; n2 < 2; n2++)
                {
                    byte* ql = w + 64 * n2, qh = w + 128 + 32 * n2;
                    for (int l = 0; l < 32; l++)
                    {
                        int g = 8 * n2 + l / 16;
                        sbyte* xn = x + 128 * n2;
                        sum += sc[g] * ((ql[l] & 0xF) | (qh[l] & 3) << 4) * xn[l];
                        sum += sc[g + 2] * ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) * xn[l + 32];
                        sum += sc[g + 4] * ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) * xn[l + 64];
                        sum += sc[g + 6] * ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) * xn[l + 96];
                    }
                }
                for (int g = 0; g < 16; g++) sum -= 32 * sc[g] * s16[g];
                total += Half(ht, w + 208) * dx * sum;
            }
            else
            {
                bool q5 = type == GgmlType.Q5_K;
                ScalesMins(w + 4, out ulong sc, out ulong mn);
                byte* qs = w + (q5 ? 48 : 16);
                byte* qh = w + 16;
                int sum = 0, minSum = 0;
                for (int s = 0; s < 8; s++)
                {
                    int scale = (byte)(sc >> (8 * s)), min = (byte)(mn >> (8 * s));
                    byte* q = qs + 32 * (s / 2);
                    int shift = 4 * (s & 1), dot = 0;
                    for (int l = 0; l < 32; l++)
                    {
                        int c = (q[l] >> shift) & 0xF;
                        if (q5) c |= ((qh[l] >> s) & 1) << 4;
                        dot += c * x[32 * s + l];
                    }
                    sum += scale * dot;
                    minSum += min * (s16[2 * s] + s16[2 * s + 1]);
                }
                total += Half(ht, w) * dx * sum - Half(ht, w + 2) * dx * minSum;
            }
        }
        return total;
    }
}
