using System.Runtime.CompilerServices;

namespace Elongate.Kernels;

/// <summary>
/// Portable 4×4 register tile for CPUs without AVX2/AVX-512 (16 scalar accumulators).
/// </summary>
internal static class GemmKernelScalar
{
    /// <summary>Rows of the register tile (broadcasts from packed A).</summary>
    public const int MR = 4;
    /// <summary>Columns of the register tile (4 vector(s) of packed B).</summary>
    public const int NR = 4;

    /// <summary>
    /// C[0..m, 0..n] = beta·C + alpha·(A-sliver · B-sliver) over <paramref name="kc"/> steps; A sliver holds MR floats per
    /// step, B sliver NR floats per step (both zero-padded by the packers). beta = 0 never reads C.
    /// </summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, float* b, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        float c0_0 = 0f, c0_1 = 0f, c0_2 = 0f, c0_3 = 0f;
        float c1_0 = 0f, c1_1 = 0f, c1_2 = 0f, c1_3 = 0f;
        float c2_0 = 0f, c2_1 = 0f, c2_2 = 0f, c2_3 = 0f;
        float c3_0 = 0f, c3_1 = 0f, c3_2 = 0f, c3_3 = 0f;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0];
            float b1 = b[1];
            float b2 = b[2];
            float b3 = b[3];
            float a0 = a[0];
            c0_0 += a0 * b0;
            c0_1 += a0 * b1;
            c0_2 += a0 * b2;
            c0_3 += a0 * b3;
            float a1 = a[1];
            c1_0 += a1 * b0;
            c1_1 += a1 * b1;
            c1_2 += a1 * b2;
            c1_3 += a1 * b3;
            float a2 = a[2];
            c2_0 += a2 * b0;
            c2_1 += a2 * b1;
            c2_2 += a2 * b2;
            c2_3 += a2 * b3;
            float a3 = a[3];
            c3_0 += a3 * b0;
            c3_1 += a3 * b1;
            c3_2 += a3 * b2;
            c3_3 += a3 * b3;
            a += 4;
            b += 4;
        }
        float* t = stackalloc float[MR * NR];
        t[0] = c0_0;
        t[1] = c0_1;
        t[2] = c0_2;
        t[3] = c0_3;
        t[4] = c1_0;
        t[5] = c1_1;
        t[6] = c1_2;
        t[7] = c1_3;
        t[8] = c2_0;
        t[9] = c2_1;
        t[10] = c2_2;
        t[11] = c2_3;
        t[12] = c3_0;
        t[13] = c3_1;
        t[14] = c3_2;
        t[15] = c3_3;
        GemmTile.MergeScalar(t, NR, c, ldc, m, n, alpha, beta);
    }
}
