using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// The 12×32 AVX-512 register tile of <see cref="GemmKernelAvx512"/> on bf16 slivers (<see cref="GemmPack16"/>): each
/// 32-bit word holds two k steps, so one zmm load of B gives both steps' 16 columns by a shift (low halves) and a mask
/// (high halves), and each A word broadcast gives one row's two steps the same way. The widened values are exact fp32,
/// and the products accumulate in fp32 by FMA — the sums VDPBF16PS forms, emulated because .NET 10 exposes no
/// AVX-512-BF16 instruction.
/// </summary>
internal static class GemmKernelBf16Avx512
{
    /// <summary>Rows of the register tile.</summary>
    public const int MR = GemmKernelAvx512.MR;
    /// <summary>Columns of the register tile.</summary>
    public const int NR = GemmKernelAvx512.NR;

    /// <summary>
    /// C[0..m, 0..n] = beta·C + alpha·(A-sliver · B-sliver) over <paramref name="kc"/> steps; <paramref name="pa"/> and
    /// <paramref name="pb"/> point at 16-bit pair slivers (typed float* to share the plan's kernel pointer).
    /// beta = 0 never reads C.
    /// </summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        uint* a = (uint*)pa, b = (uint*)pb;
        // The odd steps read the same words through float pointers and a float mask: as a different expression the JIT
        // does not keep the even steps' broadcasts alive for them (32 zmm cannot hold 12 more, it spilled them to the stack).
        float* af = pa, bf = pb;
        var high = Vector512.Create(0xFFFF_0000u).AsSingle();
        Vector512<float> c0_0 = default, c0_1 = default;
        Vector512<float> c1_0 = default, c1_1 = default;
        Vector512<float> c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default;
        Vector512<float> c4_0 = default, c4_1 = default;
        Vector512<float> c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default;
        Vector512<float> c7_0 = default, c7_1 = default;
        Vector512<float> c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default;
        Vector512<float> c10_0 = default, c10_1 = default;
        Vector512<float> c11_0 = default, c11_1 = default;
        for (int r = 0; r < m; r++)
        {
            Sse.Prefetch0(c + r * ldc);
            Sse.Prefetch0(c + r * ldc + 31);
        }
        for (int q = 0, pairs = (kc + 1) >> 1; q < pairs; q++)
        {
            // Step 2q: the low halves, shifted into place.
            var b0 = Avx512F.ShiftLeftLogical(Vector512.Load(b), 16).AsSingle();
            var b1 = Avx512F.ShiftLeftLogical(Vector512.Load(b + 16), 16).AsSingle();
            Vector512<float> x;
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[0]), 16).AsSingle();
            c0_0 = Avx512F.FusedMultiplyAdd(x, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(x, b1, c0_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[1]), 16).AsSingle();
            c1_0 = Avx512F.FusedMultiplyAdd(x, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(x, b1, c1_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[2]), 16).AsSingle();
            c2_0 = Avx512F.FusedMultiplyAdd(x, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(x, b1, c2_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[3]), 16).AsSingle();
            c3_0 = Avx512F.FusedMultiplyAdd(x, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(x, b1, c3_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[4]), 16).AsSingle();
            c4_0 = Avx512F.FusedMultiplyAdd(x, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(x, b1, c4_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[5]), 16).AsSingle();
            c5_0 = Avx512F.FusedMultiplyAdd(x, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(x, b1, c5_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[6]), 16).AsSingle();
            c6_0 = Avx512F.FusedMultiplyAdd(x, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(x, b1, c6_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[7]), 16).AsSingle();
            c7_0 = Avx512F.FusedMultiplyAdd(x, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(x, b1, c7_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[8]), 16).AsSingle();
            c8_0 = Avx512F.FusedMultiplyAdd(x, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(x, b1, c8_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[9]), 16).AsSingle();
            c9_0 = Avx512F.FusedMultiplyAdd(x, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(x, b1, c9_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[10]), 16).AsSingle();
            c10_0 = Avx512F.FusedMultiplyAdd(x, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(x, b1, c10_1);
            x = Avx512F.ShiftLeftLogical(Vector512.Create(a[11]), 16).AsSingle();
            c11_0 = Avx512F.FusedMultiplyAdd(x, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(x, b1, c11_1);
            // Step 2q + 1: the high halves, masked.
            b0 = Vector512.Load(bf) & high;
            b1 = Vector512.Load(bf + 16) & high;
            x = Vector512.Create(af[0]) & high;
            c0_0 = Avx512F.FusedMultiplyAdd(x, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(x, b1, c0_1);
            x = Vector512.Create(af[1]) & high;
            c1_0 = Avx512F.FusedMultiplyAdd(x, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(x, b1, c1_1);
            x = Vector512.Create(af[2]) & high;
            c2_0 = Avx512F.FusedMultiplyAdd(x, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(x, b1, c2_1);
            x = Vector512.Create(af[3]) & high;
            c3_0 = Avx512F.FusedMultiplyAdd(x, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(x, b1, c3_1);
            x = Vector512.Create(af[4]) & high;
            c4_0 = Avx512F.FusedMultiplyAdd(x, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(x, b1, c4_1);
            x = Vector512.Create(af[5]) & high;
            c5_0 = Avx512F.FusedMultiplyAdd(x, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(x, b1, c5_1);
            x = Vector512.Create(af[6]) & high;
            c6_0 = Avx512F.FusedMultiplyAdd(x, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(x, b1, c6_1);
            x = Vector512.Create(af[7]) & high;
            c7_0 = Avx512F.FusedMultiplyAdd(x, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(x, b1, c7_1);
            x = Vector512.Create(af[8]) & high;
            c8_0 = Avx512F.FusedMultiplyAdd(x, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(x, b1, c8_1);
            x = Vector512.Create(af[9]) & high;
            c9_0 = Avx512F.FusedMultiplyAdd(x, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(x, b1, c9_1);
            x = Vector512.Create(af[10]) & high;
            c10_0 = Avx512F.FusedMultiplyAdd(x, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(x, b1, c10_1);
            x = Vector512.Create(af[11]) & high;
            c11_0 = Avx512F.FusedMultiplyAdd(x, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(x, b1, c11_1);
            a += MR;
            b += NR;
            af += MR;
            bf += NR;
        }
        float* t = stackalloc float[MR * NR];
        c0_0.Store(t + 0);
        c0_1.Store(t + 16);
        c1_0.Store(t + 32);
        c1_1.Store(t + 48);
        c2_0.Store(t + 64);
        c2_1.Store(t + 80);
        c3_0.Store(t + 96);
        c3_1.Store(t + 112);
        c4_0.Store(t + 128);
        c4_1.Store(t + 144);
        c5_0.Store(t + 160);
        c5_1.Store(t + 176);
        c6_0.Store(t + 192);
        c6_1.Store(t + 208);
        c7_0.Store(t + 224);
        c7_1.Store(t + 240);
        c8_0.Store(t + 256);
        c8_1.Store(t + 272);
        c9_0.Store(t + 288);
        c9_1.Store(t + 304);
        c10_0.Store(t + 320);
        c10_1.Store(t + 336);
        c11_0.Store(t + 352);
        c11_1.Store(t + 368);
        GemmTile.Merge(t, NR, c, ldc, m, n, MR, NR, alpha, beta);
    }
}
