using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// Packs op(A) and op(B) for <see cref="GemmPrecision.Bf16"/>: the fp32 packers of <see cref="GemmPack"/> fill one
/// sliver in an L1-sized scratch, which is then rounded to bfloat16 and stored two k steps to a 32-bit word — the
/// layout VDPBF16PS reads. In a sliver of width w (MR or NR) and depth kc (padded to even kcp with a zero step), pair
/// q = ⌊p/2⌋ holds w words; word j has element (2q, j) in its low half and (2q + 1, j) in its high half. The kernel gets
/// step 2q as word &lt;&lt; 16 and step 2q + 1 as word &amp; 0xFFFF0000, both exact fp32 values, with no shuffles.
/// A sliver starting at row (or column) s begins at 16-bit element s·kcp, as the fp32 layout's begins at s·kc.
/// </summary>
internal static class GemmPack16
{
    /// <summary>kc rounded up to even: the depth of a 16-bit sliver.</summary>
    public static int PaddedDepth(int kc) => kc + (kc & 1);

    /// <summary>op(A)[i0..i0+mc, p0..p0+kc] into MR-row bf16 slivers (see the class remarks).</summary>
    public static unsafe void PackA(float* a, nint lda, bool trans, int i0, int mc, int p0, int kc, int mr, ushort* dst, bool avx512)
    {
        int kcp = PaddedDepth(kc);
        float* tmp = GemmBuffer.Sliver((long)mr * kcp);
        for (int s = 0; s < mc; s += mr)
        {
            GemmPack.PackA(a, lda, trans, i0 + s, Math.Min(mr, mc - s), p0, kc, mr, tmp, avx512);
            if (kcp != kc) new Span<float>(tmp + (long)kc * mr, mr).Clear();
            Pairs(tmp, mr, kcp / 2, (uint*)(dst + (long)s * kcp));
        }
    }

    /// <summary>Slivers [s0, s1) of op(B)[p0..p0+kc, j0..j0+nc] into NR-column bf16 slivers (see the class remarks).</summary>
    public static unsafe void PackB(float* b, nint ldb, bool trans, int p0, int kc, int j0, int nc, int nr, int s0, int s1, ushort* dst, bool avx512)
    {
        int kcp = PaddedDepth(kc);
        float* tmp = GemmBuffer.Sliver((long)nr * kcp);
        for (int q = s0; q < s1; q++)
        {
            int s = q * nr;
            GemmPack.PackB(b, ldb, trans, p0, kc, j0 + s, nc - s, nr, 0, 1, tmp, avx512);
            if (kcp != kc) new Span<float>(tmp + (long)kc * nr, nr).Clear();
            Pairs(tmp, nr, kcp / 2, (uint*)(dst + (long)s * kcp));
        }
    }

    /// <summary>Rounds a packed fp32 sliver of width w (2·pairs steps) into pair words: dst[q·w + j] = bf16 of steps 2q, 2q + 1.</summary>
    private static unsafe void Pairs(float* src, int w, int pairs, uint* dst)
    {
        for (int q = 0; q < pairs; q++, src += 2 * w, dst += w)
        {
            uint* lo = (uint*)src, hi = (uint*)src + w;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; j + 16 <= w; j += 16)
                    ((Bf16.RoundBits(Vector512.Load(lo + j)) >> 16) | Bf16.RoundBits(Vector512.Load(hi + j))).Store(dst + j);
            for (; j + 8 <= w; j += 8)
                ((Bf16.RoundBits(Vector256.Load(lo + j)) >> 16) | Bf16.RoundBits(Vector256.Load(hi + j))).Store(dst + j);
            for (; j + 4 <= w; j += 4)
                ((Bf16.RoundBits(Vector128.Load(lo + j)) >> 16) | Bf16.RoundBits(Vector128.Load(hi + j))).Store(dst + j);
            for (; j < w; j++)
                dst[j] = (Bf16.RoundBits(lo[j]) >> 16) | Bf16.RoundBits(hi[j]);
        }
    }
}
