using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// The 6×16 AVX2 register tile of <see cref="GemmKernelAvx2"/> on bf16 pair slivers (<see cref="GemmPack16"/>); see
/// <see cref="GemmKernelBf16Avx512"/> for the widening.
/// </summary>
internal static class GemmKernelBf16Avx2
{
    /// <summary>Rows of the register tile.</summary>
    public const int MR = GemmKernelAvx2.MR;
    /// <summary>Columns of the register tile.</summary>
    public const int NR = GemmKernelAvx2.NR;

    /// <summary>As <see cref="GemmKernelBf16Avx512.Run"/>, for the 6×16 tile.</summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        uint* a = (uint*)pa, b = (uint*)pb;
        // The odd steps read the same words through float pointers and a float mask: as a different expression the JIT
        // does not keep the even steps' broadcasts alive for them (32 zmm cannot hold 12 more, it spilled them to the stack).
        float* af = pa, bf = pb;
        var high = Vector256.Create(0xFFFF_0000u).AsSingle();
        Vector256<float> c0_0 = default, c0_1 = default;
        Vector256<float> c1_0 = default, c1_1 = default;
        Vector256<float> c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default;
        Vector256<float> c4_0 = default, c4_1 = default;
        Vector256<float> c5_0 = default, c5_1 = default;
        for (int q = 0, pairs = (kc + 1) >> 1; q < pairs; q++)
        {
            var b0 = Avx2.ShiftLeftLogical(Vector256.Load(b), 16).AsSingle();
            var b1 = Avx2.ShiftLeftLogical(Vector256.Load(b + 8), 16).AsSingle();
            Vector256<float> x;
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[0]), 16).AsSingle();
            c0_0 = Fma.MultiplyAdd(x, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(x, b1, c0_1);
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[1]), 16).AsSingle();
            c1_0 = Fma.MultiplyAdd(x, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(x, b1, c1_1);
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[2]), 16).AsSingle();
            c2_0 = Fma.MultiplyAdd(x, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(x, b1, c2_1);
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[3]), 16).AsSingle();
            c3_0 = Fma.MultiplyAdd(x, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(x, b1, c3_1);
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[4]), 16).AsSingle();
            c4_0 = Fma.MultiplyAdd(x, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(x, b1, c4_1);
            x = Avx2.ShiftLeftLogical(Vector256.Create(a[5]), 16).AsSingle();
            c5_0 = Fma.MultiplyAdd(x, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(x, b1, c5_1);
            b0 = Vector256.Load(bf) & high;
            b1 = Vector256.Load(bf + 8) & high;
            x = Vector256.Create(af[0]) & high;
            c0_0 = Fma.MultiplyAdd(x, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(x, b1, c0_1);
            x = Vector256.Create(af[1]) & high;
            c1_0 = Fma.MultiplyAdd(x, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(x, b1, c1_1);
            x = Vector256.Create(af[2]) & high;
            c2_0 = Fma.MultiplyAdd(x, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(x, b1, c2_1);
            x = Vector256.Create(af[3]) & high;
            c3_0 = Fma.MultiplyAdd(x, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(x, b1, c3_1);
            x = Vector256.Create(af[4]) & high;
            c4_0 = Fma.MultiplyAdd(x, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(x, b1, c4_1);
            x = Vector256.Create(af[5]) & high;
            c5_0 = Fma.MultiplyAdd(x, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(x, b1, c5_1);
            a += MR;
            b += NR;
            af += MR;
            bf += NR;
        }
        float* t = stackalloc float[MR * NR];
        c0_0.Store(t + 0);
        c0_1.Store(t + 8);
        c1_0.Store(t + 16);
        c1_1.Store(t + 24);
        c2_0.Store(t + 32);
        c2_1.Store(t + 40);
        c3_0.Store(t + 48);
        c3_1.Store(t + 56);
        c4_0.Store(t + 64);
        c4_1.Store(t + 72);
        c5_0.Store(t + 80);
        c5_1.Store(t + 88);
        GemmTile.Merge(t, NR, c, ldc, m, n, MR, NR, alpha, beta);
    }
}
