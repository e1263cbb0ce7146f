using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// Every transposition variant and kernel path of <see cref="Gemm"/> against a double-precision reference.
/// Tolerance: a K-term float dot product accumulated in any order with or without FMA satisfies
/// |ĉ − c| ≤ γ_K·Σ|a·b| with γ_K = K·u/(1 − K·u), u = 2⁻²⁴ (Higham, Accuracy and Stability, §3.1); the α scaling and
/// β·C merge add two more roundings. We allow (K + 3)·u·(|α|·Σ|a·b| + |β|·|C₀|) per element — a worst-case bound, so
/// the test cannot flake, yet a single misplaced or missed product (size ≈ |a·b|) exceeds it for these sizes.
/// </summary>
public class GemmTests
{
    private const double U = 1.0 / (1 << 24);

    public static IEnumerable<object[]> Isas() =>
        new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar }.Where(Gemm.IsSupported).Select(i => new object[] { i });

    /// <summary>Edge sizes around the 4/6/12-row and 4/16/32-column tiles, KC = 512, MC = 192 and NC = 2048 blocks.</summary>
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 31), (7, 1, 33), (2, 3, 1), (7, 7, 7), (12, 32, 16), (13, 33, 17), (31, 33, 65), (33, 31, 127),
        (65, 127, 33), (127, 65, 7), (6, 16, 257), (11, 15, 300), (145, 70, 40), (257, 33, 31), (33, 257, 65),
        (24, 64, 513), (13, 40, 1100), (1, 257, 127), (1, 65, 600), (3, 3100, 20), (257, 129, 200),
    ];

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Reference op(A)·op(B) in double, plus Σ|a·b| per element for the error bound.</summary>
    private static (double[] Value, double[] Abs) Reference(bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb)
    {
        var v = new double[m * n];
        var s = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta ? a[p * lda + i] : a[i * lda + p];
                    double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }
                v[i * n + j] = sum;
                s[i * n + j] = abs;
            }
        return (v, s);
    }

    private static void Check(GemmIsa isa, bool ta, bool tb, int m, int n, int k, int pad, float alpha, float beta, int threads, GemmPlan? plan = null)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random((ta ? k : m) * lda, 1 + m);
        var b = Random((tb ? n : k) * ldb, 2 + n);
        var c0 = Random(m * ldc, 3 + k);
        if (beta == 0f) Array.Fill(c0, float.NaN); // β = 0 must not read C
        var c = (float[])c0.Clone();
        var opA = ta ? GemmTranspose.Transpose : GemmTranspose.None;
        var opB = tb ? GemmTranspose.Transpose : GemmTranspose.None;
        if (plan is null) Gemm.Multiply(opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, isa, threads);
        else Gemm.MultiplyWithPlan(plan, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
        var (refV, refAbs) = Reference(ta, tb, m, n, k, a, lda, b, ldb);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double old = beta == 0f ? 0 : c0[i * ldc + j];
                double expect = alpha * refV[i * n + j] + beta * old;
                double tol = (k + 3) * U * (Math.Abs(alpha) * refAbs[i * n + j] + Math.Abs(beta * old)) + 1e-30;
                double got = c[i * ldc + j];
                if (!(Math.Abs(got - expect) <= tol))
                    Assert.Fail($"{isa} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')} m={m} n={n} k={k} pad={pad} α={alpha} β={beta}: C[{i},{j}] = {got}, expected {expect} ± {tol}");
            }
            for (int j = n; j < ldc; j++) // padding between rows is never written
                Assert.Equal(BitConverter.SingleToInt32Bits(c0[i * ldc + j]), BitConverter.SingleToInt32Bits(c[i * ldc + j]));
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void All_variants_match_double_reference_over_edge_shapes(GemmIsa isa)
    {
        foreach (var (m, n, k) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(isa, ta, tb, m, n, k, pad: 0, alpha: 1f, beta: 0f, threads: 0);
    }

    /// <summary>
    /// Blockings the cache rule gives other hosts (256 KiB … 4 MiB of L2, with and without L3) and deliberately tiny
    /// blocks (MC = 2·MR + 1 rows' worth, KC 16, NC 3·NR) so that the odd shapes cross every MC, KC and NC edge, with
    /// β ≠ 0 (the second and later KC passes accumulate) on one and two threads.
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public void Every_cache_plan_matches_double_reference(GemmIsa isa)
    {
        var plans = new List<GemmPlan>
        {
            GemmPlan.Create(isa, new CacheSizes(32 << 10, 256 << 10, 0)),
            GemmPlan.Create(isa, new CacheSizes(48 << 10, 2 << 20, 4 << 20)),
            GemmPlan.Create(isa, new CacheSizes(48 << 10, 4 << 20, 64 << 20)),
        };
        var tiny = GemmPlan.Create(isa, CacheSizes.Fallback);
        plans.Add(GemmPlan.Create(isa, CacheSizes.Fallback, mc: 2 * tiny.MR + 1, kc: 16, nc: 3 * tiny.NR, origin: "test"));
        var shapes = new[] { (13, 33, 17), (31, 100, 65), (65, 127, 33), (40, 70, 300), (100, 97, 41), (29, 200, 770) };
        foreach (var plan in plans)
            foreach (var (m, n, k) in shapes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                    {
                        Check(isa, ta, tb, m, n, k, pad: 1, alpha: 1f, beta: 0f, threads: 0, plan);
                        Check(isa, ta, tb, m, n, k, pad: 0, alpha: 0.5f, beta: -1f, threads: 1, plan);
                    }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Alpha_beta_accumulate_and_strided_operands(GemmIsa isa)
    {
        foreach (var (m, n, k) in new[] { (1, 33, 70), (7, 33, 65), (33, 65, 530), (1, 70, 1) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Check(isa, ta, tb, m, n, k, pad: 3, alpha: 1f, beta: 1f, threads: 0);
                    Check(isa, ta, tb, m, n, k, pad: 5, alpha: -1.5f, beta: 0.5f, threads: 1);
                    Check(isa, ta, tb, m, n, k, pad: 0, alpha: 0.25f, beta: 0f, threads: 0);
                }
    }

    [Fact]
    public void K_zero_and_alpha_zero_only_scale_C()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.Multiply(GemmTranspose.None, GemmTranspose.None, 2, 3, 0, 1f, [], 1, [], 3, 2f, c, 3);
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, c);
        var a = new float[] { float.NaN, 1, 1, 1 };
        Gemm.Multiply(GemmTranspose.None, GemmTranspose.None, 2, 3, 2, 0f, a, 2, new float[6], 3, 0f, c, 3);
        Assert.All(c, v => Assert.Equal(0f, v));
        c = [1, 2, 3, 4, 5, 6];
        Gemm.NT(c, [], [], 2, 3, 0, accumulate: true); // empty dot products add nothing
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
        Gemm.NN(c, [], [], 2, 3, 0);
        Assert.All(c, v => Assert.Equal(0f, v));
        Gemm.TN(c, [], [], 0, 0, 5); // nothing to do
    }

    [Fact]
    public void Results_are_bit_identical_for_any_thread_count()
    {
        // Large enough for the parallel blocked path (2·m·n·k ≥ 2²²) and the parallel GEMV (n·k ≥ 2¹⁷).
        foreach (var (m, n, k) in new[] { (300, 200, 300), (1, 700, 400) })
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false) })
            {
                int lda = ta ? m : k, ldb = tb ? k : n;
                var a = Random(m * k, 5);
                var b = Random(k * n, 6);
                var c1 = new float[m * n];
                var c2 = new float[m * n];
                var ga = ta ? GemmTranspose.Transpose : GemmTranspose.None;
                var gb = tb ? GemmTranspose.Transpose : GemmTranspose.None;
                Gemm.Multiply(ga, gb, m, n, k, 1f, a, lda, b, ldb, 0f, c1, n, maxThreads: 1);
                Gemm.Multiply(ga, gb, m, n, k, 1f, a, lda, b, ldb, 0f, c2, n, maxThreads: Math.Max(2, Environment.ProcessorCount));
                Assert.Equal(c1, c2);
            }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Few_row_NT_products_equal_one_row_at_a_time_bit_for_bit(GemmIsa isa)
    {
        // Batched decoding must not change a token's logits: up to Gemm.SkinnyRows rows take the same dot kernel as one row.
        const int n = 70, k = 45;
        var w = Random(n * k, 11);
        for (int m = 2; m <= Gemm.SkinnyRows; m++)
        {
            var x = Random(m * k, 12 + m);
            var batched = new float[m * n];
            Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, m, n, k, 1f, x, k, w, k, 0f, batched, n, isa);
            for (int t = 0; t < m; t++)
            {
                var one = new float[n];
                Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, 1, n, k, 1f, x.AsSpan(t * k, k), k, w, k, 0f, one, n, isa);
                Assert.Equal(one, batched.AsSpan(t * n, n).ToArray());
            }
        }
    }

    [Fact]
    public void Single_threaded_calls_allocate_nothing_once_buffers_exist()
    {
        var a = Random(100 * 300, 9);
        var b = Random(300 * 80, 10);
        var c = new float[100 * 80];
        foreach (int m in new[] { 100, 5, 1 })
            foreach (var tb in new[] { GemmTranspose.None, GemmTranspose.Transpose })
            {
                int ldb = tb == GemmTranspose.Transpose ? 300 : 80;
                Gemm.Multiply(GemmTranspose.None, tb, m, 80, 300, 1f, a, 300, b, ldb, 0f, c, 80, maxThreads: 1);
                long before = GC.GetAllocatedBytesForCurrentThread();
                Gemm.Multiply(GemmTranspose.None, tb, m, 80, 300, 1f, a, 300, b, ldb, 0f, c, 80, maxThreads: 1);
                Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
            }
    }

    [Fact]
    public void Convenience_entry_points_use_dense_layouts()
    {
        const int m = 9, n = 34, k = 13;
        var a = Random(m * k, 7); // [m,k]
        var w = Random(n * k, 8); // [n,k]
        var wt = new float[k * n]; // [k,n] = wᵀ
        for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) wt[p * n + j] = w[j * k + p];
        var at = new float[k * m]; // [k,m] = aᵀ
        for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) at[p * m + i] = a[i * k + p];
        var nt = new float[m * n];
        var nn = new float[m * n];
        var tn = new float[m * n];
        Gemm.NT(nt, a, w, m, n, k);
        Gemm.NN(nn, a, wt, m, n, k);
        Gemm.TN(tn, at, wt, m, n, k);
        Assert.Equal(nt, nn); // same products, same summation order
        Assert.Equal(nt, tn);
        Gemm.NT(nt, a, w, m, n, k, alpha: 2f, accumulate: true);
        for (int i = 0; i < nt.Length; i++) Assert.Equal(3 * nn[i], nt[i], 3 * Math.Abs(nn[i]) * 1e-6f);
    }

    [Fact]
    public void Rejects_operands_that_do_not_fit()
    {
        Assert.Throws<ArgumentException>(() => Gemm.NN(new float[6], new float[5], new float[6], 2, 3, 3));
        Assert.Throws<ArgumentException>(() => Gemm.NT(new float[5], new float[6], new float[9], 2, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Gemm.Multiply(GemmTranspose.None, GemmTranspose.None, 2, 3, 3, 1f, new float[6], 2, new float[9], 3, 0f, new float[6], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.NN(new float[6], new float[6], new float[9], -1, 3, 3));
    }
}
