using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// AVX2+FMA register tile 6×16: 12 ymm accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers.
/// </summary>
internal static class GemmKernelAvx2
{
    /// <summary>Rows of the register tile (broadcasts from packed A).</summary>
    public const int MR = 6;
    /// <summary>Columns of the register tile (2 vector(s) of packed B).</summary>
    public const int NR = 16;

    /// <summary>
    /// C[0..m, 0..n] = beta·C + alpha·(A-sliver · B-sliver) over <paramref name="kc"/> steps; A sliver holds MR floats per
    /// step, B sliver NR floats per step (both zero-padded by the packers). beta = 0 never reads C.
    /// </summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        Vector256<float> c0_0 = default, c0_1 = default;
        Vector256<float> c1_0 = default, c1_1 = default;
        Vector256<float> c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default;
        Vector256<float> c4_0 = default, c4_1 = default;
        Vector256<float> c5_0 = default, c5_1 = default;
        // The tile of C is read only after the k loop; start pulling its lines in now so that read does not stall.
        for (int r = 0; r < m; r++)
        {
            Sse.Prefetch0(c + r * ldc);
            Sse.Prefetch0(c + r * ldc + 15);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(a0, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(a1, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(a2, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(a3, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(a4, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(a5, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
            a += 6;
            b += 16;
        }
        if (m == MR && n == NR)
        {
            var va = Vector256.Create(alpha);
            if (beta == 0f)
            {
                (va * c0_0).Store(c + 0 * ldc + 0);
                (va * c0_1).Store(c + 0 * ldc + 8);
                (va * c1_0).Store(c + 1 * ldc + 0);
                (va * c1_1).Store(c + 1 * ldc + 8);
                (va * c2_0).Store(c + 2 * ldc + 0);
                (va * c2_1).Store(c + 2 * ldc + 8);
                (va * c3_0).Store(c + 3 * ldc + 0);
                (va * c3_1).Store(c + 3 * ldc + 8);
                (va * c4_0).Store(c + 4 * ldc + 0);
                (va * c4_1).Store(c + 4 * ldc + 8);
                (va * c5_0).Store(c + 5 * ldc + 0);
                (va * c5_1).Store(c + 5 * ldc + 8);
            }
            else
            {
                var vb = Vector256.Create(beta);
                if (beta == 1f)
                {
                    Fma.MultiplyAdd(va, c0_0, Vector256.Load(c + 0 * ldc + 0)).Store(c + 0 * ldc + 0);
                    Fma.MultiplyAdd(va, c0_1, Vector256.Load(c + 0 * ldc + 8)).Store(c + 0 * ldc + 8);
                    Fma.MultiplyAdd(va, c1_0, Vector256.Load(c + 1 * ldc + 0)).Store(c + 1 * ldc + 0);
                    Fma.MultiplyAdd(va, c1_1, Vector256.Load(c + 1 * ldc + 8)).Store(c + 1 * ldc + 8);
                    Fma.MultiplyAdd(va, c2_0, Vector256.Load(c + 2 * ldc + 0)).Store(c + 2 * ldc + 0);
                    Fma.MultiplyAdd(va, c2_1, Vector256.Load(c + 2 * ldc + 8)).Store(c + 2 * ldc + 8);
                    Fma.MultiplyAdd(va, c3_0, Vector256.Load(c + 3 * ldc + 0)).Store(c + 3 * ldc + 0);
                    Fma.MultiplyAdd(va, c3_1, Vector256.Load(c + 3 * ldc + 8)).Store(c + 3 * ldc + 8);
                    Fma.MultiplyAdd(va, c4_0, Vector256.Load(c + 4 * ldc + 0)).Store(c + 4 * ldc + 0);
                    Fma.MultiplyAdd(va, c4_1, Vector256.Load(c + 4 * ldc + 8)).Store(c + 4 * ldc + 8);
                    Fma.MultiplyAdd(va, c5_0, Vector256.Load(c + 5 * ldc + 0)).Store(c + 5 * ldc + 0);
                    Fma.MultiplyAdd(va, c5_1, Vector256.Load(c + 5 * ldc + 8)).Store(c + 5 * ldc + 8);
                }
                else
                {
                    Fma.MultiplyAdd(va, c0_0, vb * Vector256.Load(c + 0 * ldc + 0)).Store(c + 0 * ldc + 0);
                    Fma.MultiplyAdd(va, c0_1, vb * Vector256.Load(c + 0 * ldc + 8)).Store(c + 0 * ldc + 8);
                    Fma.MultiplyAdd(va, c1_0, vb * Vector256.Load(c + 1 * ldc + 0)).Store(c + 1 * ldc + 0);
                    Fma.MultiplyAdd(va, c1_1, vb * Vector256.Load(c + 1 * ldc + 8)).Store(c + 1 * ldc + 8);
                    Fma.MultiplyAdd(va, c2_0, vb * Vector256.Load(c + 2 * ldc + 0)).Store(c + 2 * ldc + 0);
                    Fma.MultiplyAdd(va, c2_1, vb * Vector256.Load(c + 2 * ldc + 8)).Store(c + 2 * ldc + 8);
                    Fma.MultiplyAdd(va, c3_0, vb * Vector256.Load(c + 3 * ldc + 0)).Store(c + 3 * ldc + 0);
                    Fma.MultiplyAdd(va, c3_1, vb * Vector256.Load(c + 3 * ldc + 8)).Store(c + 3 * ldc + 8);
                    Fma.MultiplyAdd(va, c4_0, vb * Vector256.Load(c + 4 * ldc + 0)).Store(c + 4 * ldc + 0);
                    Fma.MultiplyAdd(va, c4_1, vb * Vector256.Load(c + 4 * ldc + 8)).Store(c + 4 * ldc + 8);
                    Fma.MultiplyAdd(va, c5_0, vb * Vector256.Load(c + 5 * ldc + 0)).Store(c + 5 * ldc + 0);
                    Fma.MultiplyAdd(va, c5_1, vb * Vector256.Load(c + 5 * ldc + 8)).Store(c + 5 * ldc + 8);
                }
            }
            return;
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
        GemmTile.MergeScalar(t, NR, c, ldc, m, n, alpha, beta);
    }
}
