using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// AVX-512 register tile 12×32: 24 zmm accumulators + 2 B vectors + 1 broadcast fit the 32 zmm registers, and
/// each step issues 24 FMAs against 2 + 12 loads, so the two FMA pipes stay busy.
/// </summary>
internal static class GemmKernelAvx512
{
    /// <summary>Rows of the register tile (broadcasts from packed A).</summary>
    public const int MR = 12;
    /// <summary>Columns of the register tile (2 vector(s) of packed B).</summary>
    public const int NR = 32;

    /// <summary>
    /// C[0..m, 0..n] = beta·C + alpha·(A-sliver · B-sliver) over <paramref name="kc"/> steps; A sliver holds MR floats per
    /// step, B sliver NR floats per step (both zero-padded by the packers). beta = 0 never reads C.
    /// </summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
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
        // The tile of C is read only after the k loop; start pulling its lines in now so that read does not stall.
        for (int r = 0; r < m; r++)
        {
            Sse.Prefetch0(c + r * ldc);
            Sse.Prefetch0(c + r * ldc + 31);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(a8, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(a9, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(a10, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(a11, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(a11, b1, c11_1);
            a += 12;
            b += 32;
        }
        if (m == MR && n == NR)
        {
            var va = Vector512.Create(alpha);
            if (beta == 0f)
            {
                (va * c0_0).Store(c + 0 * ldc + 0);
                (va * c0_1).Store(c + 0 * ldc + 16);
                (va * c1_0).Store(c + 1 * ldc + 0);
                (va * c1_1).Store(c + 1 * ldc + 16);
                (va * c2_0).Store(c + 2 * ldc + 0);
                (va * c2_1).Store(c + 2 * ldc + 16);
                (va * c3_0).Store(c + 3 * ldc + 0);
                (va * c3_1).Store(c + 3 * ldc + 16);
                (va * c4_0).Store(c + 4 * ldc + 0);
                (va * c4_1).Store(c + 4 * ldc + 16);
                (va * c5_0).Store(c + 5 * ldc + 0);
                (va * c5_1).Store(c + 5 * ldc + 16);
                (va * c6_0).Store(c + 6 * ldc + 0);
                (va * c6_1).Store(c + 6 * ldc + 16);
                (va * c7_0).Store(c + 7 * ldc + 0);
                (va * c7_1).Store(c + 7 * ldc + 16);
                (va * c8_0).Store(c + 8 * ldc + 0);
                (va * c8_1).Store(c + 8 * ldc + 16);
                (va * c9_0).Store(c + 9 * ldc + 0);
                (va * c9_1).Store(c + 9 * ldc + 16);
                (va * c10_0).Store(c + 10 * ldc + 0);
                (va * c10_1).Store(c + 10 * ldc + 16);
                (va * c11_0).Store(c + 11 * ldc + 0);
                (va * c11_1).Store(c + 11 * ldc + 16);
            }
            else
            {
                var vb = Vector512.Create(beta);
                if (beta == 1f)
                {
                    Avx512F.FusedMultiplyAdd(va, c0_0, Vector512.Load(c + 0 * ldc + 0)).Store(c + 0 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c0_1, Vector512.Load(c + 0 * ldc + 16)).Store(c + 0 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c1_0, Vector512.Load(c + 1 * ldc + 0)).Store(c + 1 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c1_1, Vector512.Load(c + 1 * ldc + 16)).Store(c + 1 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c2_0, Vector512.Load(c + 2 * ldc + 0)).Store(c + 2 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c2_1, Vector512.Load(c + 2 * ldc + 16)).Store(c + 2 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c3_0, Vector512.Load(c + 3 * ldc + 0)).Store(c + 3 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c3_1, Vector512.Load(c + 3 * ldc + 16)).Store(c + 3 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c4_0, Vector512.Load(c + 4 * ldc + 0)).Store(c + 4 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c4_1, Vector512.Load(c + 4 * ldc + 16)).Store(c + 4 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c5_0, Vector512.Load(c + 5 * ldc + 0)).Store(c + 5 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c5_1, Vector512.Load(c + 5 * ldc + 16)).Store(c + 5 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c6_0, Vector512.Load(c + 6 * ldc + 0)).Store(c + 6 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c6_1, Vector512.Load(c + 6 * ldc + 16)).Store(c + 6 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c7_0, Vector512.Load(c + 7 * ldc + 0)).Store(c + 7 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c7_1, Vector512.Load(c + 7 * ldc + 16)).Store(c + 7 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c8_0, Vector512.Load(c + 8 * ldc + 0)).Store(c + 8 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c8_1, Vector512.Load(c + 8 * ldc + 16)).Store(c + 8 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c9_0, Vector512.Load(c + 9 * ldc + 0)).Store(c + 9 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c9_1, Vector512.Load(c + 9 * ldc + 16)).Store(c + 9 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c10_0, Vector512.Load(c + 10 * ldc + 0)).Store(c + 10 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c10_1, Vector512.Load(c + 10 * ldc + 16)).Store(c + 10 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c11_0, Vector512.Load(c + 11 * ldc + 0)).Store(c + 11 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c11_1, Vector512.Load(c + 11 * ldc + 16)).Store(c + 11 * ldc + 16);
                }
                else
                {
                    Avx512F.FusedMultiplyAdd(va, c0_0, vb * Vector512.Load(c + 0 * ldc + 0)).Store(c + 0 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c0_1, vb * Vector512.Load(c + 0 * ldc + 16)).Store(c + 0 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c1_0, vb * Vector512.Load(c + 1 * ldc + 0)).Store(c + 1 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c1_1, vb * Vector512.Load(c + 1 * ldc + 16)).Store(c + 1 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c2_0, vb * Vector512.Load(c + 2 * ldc + 0)).Store(c + 2 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c2_1, vb * Vector512.Load(c + 2 * ldc + 16)).Store(c + 2 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c3_0, vb * Vector512.Load(c + 3 * ldc + 0)).Store(c + 3 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c3_1, vb * Vector512.Load(c + 3 * ldc + 16)).Store(c + 3 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c4_0, vb * Vector512.Load(c + 4 * ldc + 0)).Store(c + 4 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c4_1, vb * Vector512.Load(c + 4 * ldc + 16)).Store(c + 4 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c5_0, vb * Vector512.Load(c + 5 * ldc + 0)).Store(c + 5 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c5_1, vb * Vector512.Load(c + 5 * ldc + 16)).Store(c + 5 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c6_0, vb * Vector512.Load(c + 6 * ldc + 0)).Store(c + 6 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c6_1, vb * Vector512.Load(c + 6 * ldc + 16)).Store(c + 6 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c7_0, vb * Vector512.Load(c + 7 * ldc + 0)).Store(c + 7 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c7_1, vb * Vector512.Load(c + 7 * ldc + 16)).Store(c + 7 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c8_0, vb * Vector512.Load(c + 8 * ldc + 0)).Store(c + 8 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c8_1, vb * Vector512.Load(c + 8 * ldc + 16)).Store(c + 8 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c9_0, vb * Vector512.Load(c + 9 * ldc + 0)).Store(c + 9 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c9_1, vb * Vector512.Load(c + 9 * ldc + 16)).Store(c + 9 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c10_0, vb * Vector512.Load(c + 10 * ldc + 0)).Store(c + 10 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c10_1, vb * Vector512.Load(c + 10 * ldc + 16)).Store(c + 10 * ldc + 16);
                    Avx512F.FusedMultiplyAdd(va, c11_0, vb * Vector512.Load(c + 11 * ldc + 0)).Store(c + 11 * ldc + 0);
                    Avx512F.FusedMultiplyAdd(va, c11_1, vb * Vector512.Load(c + 11 * ldc + 16)).Store(c + 11 * ldc + 16);
                }
            }
            return;
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
        GemmTile.MergeScalar(t, NR, c, ldc, m, n, alpha, beta);
    }
}
