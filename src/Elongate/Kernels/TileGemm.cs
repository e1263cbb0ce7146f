namespace Elongate.Kernels;

/// <summary>
/// Small single-threaded matrix products for the tiles of <see cref="FlashAttentionTiled"/>: operands are packed into
/// the sliver layouts of <see cref="GemmPack"/> once and swept with <see cref="Gemm"/>'s register-tile micro-kernel
/// (12×32 zmm on AVX-512, 6×16 ymm on AVX2), so a 64×64×64 tile product runs at the GEMM's rate instead of as
/// row-by-row dot products. Every element of C sums its k products in the same order wherever it lies in the tile.
/// </summary>
internal static unsafe class TileGemm
{
    /// <summary>The micro-kernel plan (register tile, packers) of the widest path this CPU has.</summary>
    public static GemmPlan Plan { get; } = GemmPlan.For(Gemm.BestIsa);

    /// <summary>Floats a packed A operand of <paramref name="m"/> rows and depth <paramref name="k"/> needs.</summary>
    public static long ASize(int m, int k) => (long)RoundUp(m, Plan.MR) * k;

    /// <summary>Floats a packed B operand of depth <paramref name="k"/> and <paramref name="n"/> columns needs.</summary>
    public static long BSize(int k, int n) => (long)k * RoundUp(n, Plan.NR);

    /// <summary>op(A)[0..m, 0..k] (A stored [m, k] with row stride lda, or [k, m] when transposed) into MR-row slivers.</summary>
    public static void PackA(float* a, nint lda, bool trans, int m, int k, float* dst) =>
        GemmPack.PackA(a, lda, trans, 0, m, 0, k, Plan.MR, dst, Plan.VectorPack);

    /// <summary>op(B)[0..k, 0..n] (B stored [k, n], or [n, k] when transposed) into NR-column slivers.</summary>
    public static void PackB(float* b, nint ldb, bool trans, int k, int n, float* dst) =>
        GemmPack.PackB(b, ldb, trans, 0, k, 0, n, Plan.NR, 0, (n + Plan.NR - 1) / Plan.NR, dst, Plan.VectorPack);

    /// <summary>Zeroes step <paramref name="p"/> (one k index) of a packed B operand of depth k and n columns.</summary>
    public static void ZeroBStep(float* bp, int k, int n, int p)
    {
        int nr = Plan.NR;
        for (int s = 0; s < n; s += nr) new Span<float>(bp + (long)s * k + (long)p * nr, nr).Clear();
    }

    /// <summary>C[m, n] (row stride ldc) = α·A·B + β·C for packed A (m × k) and B (k × n); β = 0 never reads C.</summary>
    public static void Multiply(float* ap, float* bp, int m, int n, int k, float* c, nint ldc, float alpha, float beta) =>
        MultiplyMaskedBelow(ap, bp, m, n, k, c, ldc, alpha, beta, int.MaxValue); // no tile is ever below an infinite offset

    /// <summary>
    /// <see cref="Multiply"/> for a C whose entries (i, j) with i − j &gt; <paramref name="offset"/> are masked afterwards
    /// (keys after their query in a transposed score tile): register tiles made only of such entries are not computed
    /// and keep whatever C held.
    /// </summary>
    public static void MultiplyMaskedBelow(float* ap, float* bp, int m, int n, int k, float* c, nint ldc, float alpha, float beta, int offset)
    {
        var plan = Plan;
        int mr = plan.MR, nr = plan.NR;
        var kernel = plan.Kernel;
        for (int j = 0; j < n; j += nr)
        {
            float* bj = bp + (long)j * k;
            int cols = Math.Min(nr, n - j);
            for (int i = 0; i < m; i += mr)
            {
                if (i - (j + cols - 1) > offset) break; // this and every later row sliver is masked
                kernel(k, ap + (long)i * k, bj, c + i * ldc + j, ldc, Math.Min(mr, m - i), cols, alpha, beta);
            }
        }
    }

    /// <summary>
    /// C += A·B (β = 1) for an A whose row i is zero beyond column i + <paramref name="offset"/> (a probability or dS
    /// tile, queries × keys, under the causal mask): each row sliver sums only the k steps up to its last row's limit.
    /// The skipped products are exact zeros, so C gets the same bits as from <see cref="Multiply"/>.
    /// </summary>
    public static void MultiplyAddLowerA(float* ap, float* bp, int m, int n, int k, float* c, nint ldc, int offset) =>
        MultiplyAddBanded(ap, bp, m, n, k, c, ldc, offset, lower: true);

    /// <summary>
    /// C += A·B (β = 1) for an A whose row i is zero before column i − <paramref name="offset"/> (a transposed probability
    /// or dS tile, keys × queries, under the causal mask): each row sliver starts at its first row's first nonzero step.
    /// The skipped products are exact zeros, so C gets the same bits as from <see cref="Multiply"/>.
    /// </summary>
    public static void MultiplyAddUpperA(float* ap, float* bp, int m, int n, int k, float* c, nint ldc, int offset) =>
        MultiplyAddBanded(ap, bp, m, n, k, c, ldc, offset, lower: false);

    /// <summary>The loop of <see cref="MultiplyAddLowerA"/> (each sliver's k range ends at its last row's limit) and
    /// <see cref="MultiplyAddUpperA"/> (it starts at its first row's first nonzero step).</summary>
    private static void MultiplyAddBanded(float* ap, float* bp, int m, int n, int k, float* c, nint ldc, int offset, bool lower)
    {
        var plan = Plan;
        int mr = plan.MR, nr = plan.NR;
        var kernel = plan.Kernel;
        for (int j = 0; j < n; j += nr)
        {
            float* bj = bp + (long)j * k;
            int cols = Math.Min(nr, n - j);
            for (int i = 0; i < m; i += mr)
            {
                int kStart = lower ? 0 : Math.Max(0, i - offset);
                int kEnd = lower ? Math.Min(k, i + mr + offset) : k;
                if (kEnd <= kStart) continue;
                kernel(kEnd - kStart, ap + (long)i * k + (long)kStart * mr, bj + (long)kStart * nr, c + i * ldc + j, ldc,
                    Math.Min(mr, m - i), cols, 1f, 1f);
            }
        }
    }

    public static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
