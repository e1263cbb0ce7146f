using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// Single-precision GEMM on row-major spans: C[M,N] = α·op(A)·op(B) + β·C, in the Goto/BLIS structure. For each
/// KC-deep, NC-wide panel of op(B) (packed once, shared by all threads, sized for L3), MC-row blocks of op(A) are packed
/// per thread (sized for L2) and swept by an MR×NR register-tile micro-kernel that reuses one NR-wide B sliver across the block.
/// Work is split over (MC block × column range) tasks across cores. Every element of C sums its K products in the same
/// order whatever the thread count, so results are bit-identical for any number of threads. Single-row products go
/// to a dedicated GEMV path.
/// </summary>
public static class Gemm
{
    /// <summary>Below this many flops the pool wake-up costs more than the second core saves.</summary>
    private const long ParallelFlops = 1L << 22;

    /// <summary>Up to this many rows, NT products skip packing and use the GEMV dot kernel (see <see cref="Gemv.RowDots"/>).</summary>
    internal const int SkinnyRows = 8;

    /// <summary>The path <see cref="GemmIsa.Auto"/> resolves to on this CPU.</summary>
    public static GemmIsa BestIsa { get; } =
        Avx512F.IsSupported ? GemmIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? GemmIsa.Avx2 : GemmIsa.Scalar;

    /// <summary>Whether this CPU can run <paramref name="isa"/>.</summary>
    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Auto or GemmIsa.Scalar => true,
        GemmIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmIsa.Avx512 => Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>C[m,n] = α·A[m,k]·B[k,n] (+ C when <paramref name="accumulate"/>), all densely packed row-major.</summary>
    public static void NN(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, float alpha = 1f, bool accumulate = false,
        GemmPrecision precision = GemmPrecision.Fp32) =>
        Multiply(GemmTranspose.None, GemmTranspose.None, m, n, k, alpha, a, Ld(k), b, Ld(n), accumulate ? 1f : 0f, c, Ld(n), precision: precision);

    /// <summary>
    /// C[m,n] = α·A[m,k]·Bᵀ (+ C) with B stored [n,k] — the nn.Linear forward y = x·Wᵀ and the input gradient's
    /// counterpart dX = dY·W is <see cref="NN"/>.
    /// </summary>
    public static void NT(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, float alpha = 1f, bool accumulate = false,
        GemmPrecision precision = GemmPrecision.Fp32) =>
        Multiply(GemmTranspose.None, GemmTranspose.Transpose, m, n, k, alpha, a, Ld(k), b, Ld(k), accumulate ? 1f : 0f, c, Ld(n), precision: precision);

    /// <summary>C[m,n] = α·Aᵀ·B[k,n] (+ C) with A stored [k,m] — the weight gradient dW = dYᵀ·X.</summary>
    public static void TN(Span<float> c, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, float alpha = 1f, bool accumulate = false,
        GemmPrecision precision = GemmPrecision.Fp32) =>
        Multiply(GemmTranspose.Transpose, GemmTranspose.None, m, n, k, alpha, a, Ld(m), b, Ld(n), accumulate ? 1f : 0f, c, Ld(n), precision: precision);

    /// <summary>
    /// BLAS-style C = α·op(A)·op(B) + β·C on row-major storage with leading dimensions (row strides). β = 0 overwrites C
    /// without reading it (NaNs in C do not propagate). <paramref name="maxThreads"/> ≤ 0 uses every core;
    /// <paramref name="isa"/> forces a kernel path (tests), throwing <see cref="PlatformNotSupportedException"/> if the CPU
    /// lacks it. <paramref name="precision"/> <see cref="GemmPrecision.Bf16"/> rounds every element of op(A) and op(B) to
    /// bfloat16 as it is packed and accumulates in fp32 (see <see cref="GemmPrecision"/>); every product, single rows
    /// included, then goes through the blocked path, so all of them see the same rounding.
    /// </summary>
    public static void Multiply(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        GemmIsa isa = GemmIsa.Auto, int maxThreads = 0, GemmPrecision precision = GemmPrecision.Fp32) =>
        Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, isa, maxThreads, null, precision);

    /// <summary>
    /// The register tile and cache blocks of <paramref name="isa"/>'s path on this host (Auto: <see cref="BestIsa"/>),
    /// derived once per process from <see cref="CpuInfo.Current"/>'s cache sizes (rule: <see cref="GemmPlan.Create"/>)
    /// unless the environment variable ELONGATE_GEMM_BLOCKING="MC,KC,NC" overrides it.
    /// </summary>
    public static GemmBlocking Blocking(GemmIsa isa = GemmIsa.Auto, GemmPrecision precision = GemmPrecision.Fp32) =>
        GemmPlan.For(isa == GemmIsa.Auto ? BestIsa : isa, precision).Describe();

    /// <summary><see cref="Multiply"/> with an explicit blocking plan (tests: block edges at small sizes).</summary>
    internal static void MultiplyWithPlan(GemmPlan plan, GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, int maxThreads = 0) =>
        Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, plan.Isa, maxThreads, plan, plan.Precision);

    private static unsafe void Run(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        GemmIsa isa, int maxThreads, GemmPlan? explicitPlan, GemmPrecision precision)
    {
        _ = GemmPlan.ElementSize(precision);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        bool ta = transA == GemmTranspose.Transpose, tb = transB == GemmTranspose.Transpose;
        CheckOperand("A", a.Length, ta ? k : m, ta ? m : k, lda);
        CheckOperand("B", b.Length, tb ? n : k, tb ? k : n, ldb);
        CheckOperand("C", c.Length, m, n, ldc);
        if (!IsSupported(isa)) throw new PlatformNotSupportedException($"GEMM path {isa} is not supported by this CPU");
        if (isa == GemmIsa.Auto) isa = BestIsa;
        if (m == 0 || n == 0) return;
        int threads = maxThreads <= 0 ? Environment.ProcessorCount : Math.Min(maxThreads, Environment.ProcessorCount);

        fixed (float* pa = a, pb = b, pc = c)
        {
            if (k == 0 || alpha == 0f)
            {
                ScaleC(pc, ldc, m, n, beta);
                return;
            }
            bool fp32 = precision == GemmPrecision.Fp32;
            if (m == 1 && fp32)
            {
                float* x = pa;
                if (ta && lda != 1)
                {
                    // op(A) is one column of the stored [k, lda] matrix: gather it so the GEMV streams unit-stride.
                    x = GemmBuffer.A(k);
                    for (int p = 0; p < k; p++) x[p] = pa[(long)p * lda];
                }
                if (tb) Gemv.RowDots(x, k, 1, pb, ldb, n, k, pc, ldc, alpha, beta, isa, threads);
                else Gemv.Axpys(x, pb, ldb, k, n, pc, alpha, beta, isa, threads);
                return;
            }
            if (m <= SkinnyRows && tb && !ta && fp32)
            {
                // A few rows against an [n, k] weight (batched decoding): packing the weight would cost more than
                // the product, so stream it once through the GEMV dot kernel.
                Gemv.RowDots(pa, lda, m, pb, ldb, n, k, pc, ldc, alpha, beta, isa, threads);
                return;
            }
            var plan = explicitPlan ?? GemmPlan.For(isa, precision);
            if (2L * m * n * k < ParallelFlops) threads = 1;
            Blocked(plan, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, threads);
        }
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (ld < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(name, $"GEMM operand {name}: leading dimension {ld} is smaller than its {cols} columns");
        if (rows > 0 && cols > 0 && length < (long)(rows - 1) * ld + cols)
            throw new ArgumentException($"GEMM operand {name}: span of {length} floats is too short for [{rows},{cols}] with leading dimension {ld}", name);
    }

    private static unsafe void ScaleC(float* c, nint ldc, int m, int n, float beta)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static unsafe void Blocked(GemmPlan plan, bool ta, bool tb, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int threads)
    {
        int mr = plan.MR, nr = plan.NR;
        int kcMax = Math.Min(plan.KC, k), ncMax = Math.Min(plan.NC, n);
        float* bp = GemmBuffer.B(GemmJob.BufferFloats(plan, (long)RoundUp(ncMax, nr) * GemmJob.PackedDepth(plan, kcMax)));
        var job = new GemmJob { Plan = plan, TransA = ta, A = a, Lda = lda, TransB = tb, B = b, Ldb = ldb, C = c, Ldc = ldc, M = m, Alpha = alpha, Bp = bp };
        for (int jc = 0; jc < n; jc += plan.NC)
        {
            int nc = Math.Min(plan.NC, n - jc);
            int slivers = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += plan.KC)
            {
                int kc = Math.Min(plan.KC, k - pc);
                job.Jc = jc; job.Nc = nc; job.Pc = pc; job.Kc = kc; job.Slivers = slivers;
                job.Beta = pc == 0 ? beta : 1f;
                // Equal row blocks (to one sliver), as many as MC asks for, rounded up to a multiple of the thread count
                // so that no thread waits at the end of a step for a lone block.
                int rowSlivers = (m + mr - 1) / mr;
                int numIc = (m + plan.MC - 1) / plan.MC;
                if (threads > 1)
                {
                    // Enough tasks for dynamic balancing on a shared machine (4 per thread) come first from smaller row
                    // blocks (down to 4 slivers), and only then from splitting the columns: a column split re-packs its
                    // A block (a strided transpose) once per split, while a smaller block only re-reads the packed B
                    // panel from L3. At n = 1024 this turns 6 blocks × 2 splits into 8 blocks × 1.
                    numIc = Math.Max(numIc, Math.Min(4 * threads, rowSlivers / 4));
                    numIc = (numIc + threads - 1) / threads * threads;
                }
                numIc = Math.Min(numIc, rowSlivers);
                job.IcBlocks = numIc; job.RowSlivers = rowSlivers;
                if (threads == 1)
                {
                    job.Splits = 1;
                    job.PackB(0, slivers);
                    for (int t = 0; t < numIc; t++) job.Run(t);
                }
                else
                {
                    // Column splits only where the rows alone give too few tasks (short M), in ranges of at least 4
                    // slivers so each re-pack of the A block is amortized over ≥ 4·NR columns.
                    job.Splits = Math.Clamp((4 * threads + numIc - 1) / numIc, 1, Math.Max(1, slivers / 4));
                    ParallelStep(job, threads);
                }
            }
        }
    }

    /// <summary>Packs and sweeps one KC×NC step on <see cref="WorkerPool.Default"/>, at most <paramref name="threads"/> at once.</summary>
    private static void ParallelStep(GemmJob job, int threads)
    {
        int chunks = Math.Min(threads, job.Slivers);
        var pack = new PackTask { Job = job, Chunks = chunks };
        WorkerPool.Default.For(chunks, ref pack, threads);
        var sweep = new SweepTask { Job = job };
        WorkerPool.Default.For(job.IcBlocks * job.Splits, ref sweep, threads);
    }

    private struct PackTask : IWorkerTask
    {
        public GemmJob Job;
        public int Chunks;
        public readonly void Run(int t) => Job.PackB(Job.Slivers * t / Chunks, Job.Slivers * (t + 1) / Chunks);
    }

    private struct SweepTask : IWorkerTask
    {
        public GemmJob Job;
        public readonly void Run(int t) => Job.Run(t);
    }

    /// <summary>Dense leading dimension; a zero-width operand still gets the BLAS minimum of 1.</summary>
    private static int Ld(int cols) => Math.Max(1, cols);

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
