using System.Runtime.CompilerServices;

namespace Elongate.Kernels;

/// <summary>
/// The portable 4×4 tile of <see cref="GemmKernelScalar"/> on bf16 pair slivers (<see cref="GemmPack16"/>): a bf16
/// widens to fp32 by moving its 16 bits into the upper half of the word.
/// </summary>
internal static class GemmKernelBf16Scalar
{
    /// <summary>Rows of the register tile.</summary>
    public const int MR = GemmKernelScalar.MR;
    /// <summary>Columns of the register tile.</summary>
    public const int NR = GemmKernelScalar.NR;

    /// <summary>As <see cref="GemmKernelBf16Avx512.Run"/>, for the 4×4 tile.</summary>
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        uint* a = (uint*)pa, b = (uint*)pb;
        float* t = stackalloc float[MR * NR];
        new Span<float>(t, MR * NR).Clear();
        for (int q = 0, pairs = (kc + 1) >> 1; q < pairs; q++, a += MR, b += NR)
        {
            for (int r = 0; r < MR; r++)
            {
                float a0 = Low(a[r]), a1 = High(a[r]);
                float* tr = t + r * NR;
                for (int j = 0; j < NR; j++)
                {
                    tr[j] += a0 * Low(b[j]);
                    tr[j] += a1 * High(b[j]);
                }
            }
        }
        GemmTile.MergeScalar(t, NR, c, ldc, m, n, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Low(uint word) => BitConverter.UInt32BitsToSingle(word << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float High(uint word) => BitConverter.UInt32BitsToSingle(word & 0xFFFF_0000u);
}
