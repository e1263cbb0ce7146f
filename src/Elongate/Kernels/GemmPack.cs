namespace Elongate.Kernels;

/// <summary>
/// Copies blocks of op(A) and op(B) into the sliver layout the register tiles stream through: consecutive k steps of
/// one sliver are adjacent, so the micro-kernel reads both operands with unit stride and no TLB or cache-set conflicts,
/// whatever the source strides and transpositions. Slivers are zero-padded to full MR/NR width.
/// </summary>
internal static class GemmPack
{
    /// <summary>
    /// op(A)[i0..i0+mc, p0..p0+kc] into MR-row slivers: sliver starting at row s (a multiple of MR) begins at s·kc and
    /// holds element (p, r) at p·MR + r.
    /// </summary>
    public static unsafe void PackA(float* a, nint lda, bool trans, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int s = 0; s < mc; s += mr)
        {
            int rows = Math.Min(mr, mc - s);
            float* d = dst + (long)s * kc;
            if (!trans)
            {
                // Row r of the sliver is contiguous in A; write it with stride MR (the sliver is small enough to stay in L1).
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (i0 + s + r) * lda + p0;
                    float* dr = d + r;
                    for (int p = 0; p < kc; p++) dr[p * mr] = src[p];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) d[p * mr + r] = 0f;
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (p0 + p) * lda + i0 + s;
                    float* dp = d + p * mr;
                    int r = 0;
                    for (; r < rows; r++) dp[r] = src[r];
                    for (; r < mr; r++) dp[r] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// Slivers [s0, s1) (counted in NR-column units) of op(B)[p0..p0+kc, j0..j0+nc]: sliver q begins at q·NR·kc and holds
    /// element (p, j) at p·NR + j.
    /// </summary>
    public static unsafe void PackB(float* b, nint ldb, bool trans, int p0, int kc, int j0, int nc, int nr, int s0, int s1, float* dst)
    {
        for (int q = s0; q < s1; q++)
        {
            int s = q * nr;
            int cols = Math.Min(nr, nc - s);
            float* d = dst + (long)s * kc;
            if (!trans)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (p0 + p) * ldb + j0 + s;
                    float* dp = d + p * nr;
                    if (cols == nr)
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(dp, nr));
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++) dp[j] = src[j];
                        for (; j < nr; j++) dp[j] = 0f;
                    }
                }
            }
            else
            {
                // Column j of op(B) is row j of the stored [N, K] matrix: read it contiguously, scatter with stride NR.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (j0 + s + j) * ldb + p0;
                    float* dj = d + j;
                    for (int p = 0; p < kc; p++) dj[p * nr] = src[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = 0f;
            }
        }
    }
}
