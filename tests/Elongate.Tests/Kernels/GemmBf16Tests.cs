using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// <see cref="GemmPrecision.Bf16"/> against fp64 and against fp32 on pre-rounded inputs, and <see cref="Bf16"/>'s
/// rounding against an independent double-precision oracle.
/// Tolerance against fp64: rounding each input to bf16 costs at most u = 2⁻⁸ relative, so each product |âb̂ − ab| ≤
/// (2u + u²)·|ab|; the products of two bf16 values are exact in fp32 (8 + 8 significant bits ≤ 24), and their fp32 sum
/// adds at most (k + 3)·2⁻²⁴ times Σ|âb̂| ≤ (1 + u)²·Σ|ab| (the fp32 bound of <see cref="GemmTests"/>). Hence per element
/// |ĉ − c| ≤ |α|·(2u + u² + (k + 3)·2⁻²⁴·(1 + u)²)·Σ|ab| + (k + 3)·2⁻²⁴·|β·C₀|: a worst-case bound, not a statistical one.
/// </summary>
public class GemmBf16Tests
{
    private const double U16 = 1.0 / 256, U32 = 1.0 / (1 << 24);

    public static IEnumerable<object[]> Isas() =>
        new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar }.Where(Gemm.IsSupported).Select(i => new object[] { i });

    /// <summary>Edge sizes around the 4/6/12-row and 4/16/32-column tiles, odd depths (a padded pair) and a KC edge.</summary>
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 31), (2, 3, 1), (7, 7, 7), (12, 32, 16), (13, 33, 17), (31, 33, 65), (65, 127, 33),
        (6, 16, 257), (11, 15, 300), (145, 70, 40), (24, 64, 513), (13, 40, 1101), (3, 100, 20),
    ];

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        // Magnitudes over several binades, so that rounding hits every mantissa pattern.
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-6, 7)));
        return x;
    }

    private static void Run(GemmIsa isa, bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float alpha, float beta, float[] c, int ldc,
        GemmPrecision precision, GemmPlan? plan = null)
    {
        var opA = ta ? GemmTranspose.Transpose : GemmTranspose.None;
        var opB = tb ? GemmTranspose.Transpose : GemmTranspose.None;
        if (plan is null) Gemm.Multiply(opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, isa, precision: precision);
        else Gemm.MultiplyWithPlan(plan, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Bf16_matches_double_reference_within_the_bf16_bound(GemmIsa isa)
    {
        double worst = 0;
        foreach (var (m, n, k) in Shapes)
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false) })
            {
                int lda = ta ? m : k, ldb = tb ? k : n;
                var a = Random(m * k, 1 + m + k);
                var b = Random(k * n, 2 + n);
                var c0 = Random(m * n, 3);
                var c = (float[])c0.Clone();
                const float alpha = 0.75f, beta = -0.5f;
                Run(isa, ta, tb, m, n, k, a, lda, b, ldb, alpha, beta, c, n, GemmPrecision.Bf16);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double sum = 0, abs = 0;
                        for (int p = 0; p < k; p++)
                        {
                            double x = ta ? a[p * lda + i] : a[i * lda + p], y = tb ? b[j * ldb + p] : b[p * ldb + j];
                            sum += x * y;
                            abs += Math.Abs(x * y);
                        }
                        double expect = alpha * sum + beta * (double)c0[i * n + j];
                        double tol = Math.Abs(alpha) * (2 * U16 + U16 * U16 + (k + 3) * U32 * (1 + U16) * (1 + U16)) * abs
                            + (k + 3) * U32 * Math.Abs(beta * c0[i * n + j]) + 1e-30;
                        double err = Math.Abs(c[i * n + j] - expect);
                        if (!(err <= tol))
                            Assert.Fail($"{isa} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')} m={m} n={n} k={k}: C[{i},{j}] = {c[i * n + j]}, expected {expect} ± {tol}");
                        worst = Math.Max(worst, err / (Math.Abs(alpha) * abs + 1e-30));
                    }
            }
        // The rounding really happened: errors of fp32 size only (≤ (k + 3)·2⁻²⁴) would mean the inputs were not rounded.
        Assert.True(worst > 1e-4, $"largest error relative to Σ|ab| is {worst}: the inputs were not rounded to bf16");
    }

    /// <summary>
    /// The bf16 path is exactly the fp32 path on inputs rounded by <see cref="Bf16.Round(float)"/> (round to nearest
    /// even): with the same blocking, the products are the same exact fp32 values added in the same order, so C agrees
    /// bit for bit (zeros compared by value: the padded step of an odd depth adds +0). Single rows and few-row NT
    /// products, which fp32 sends to its GEMV kernel whatever the plan, are held to the bound below. With each path's own cache plan
    /// the KC passes differ, and only the fp32 summation bound (k + 3)·2⁻²⁴·Σ|âb̂| separates them.
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public void Bf16_equals_fp32_on_inputs_rounded_to_bf16(GemmIsa isa)
    {
        var fp32Plan = GemmPlan.Create(isa, CacheSizes.Fallback, GemmPrecision.Fp32, mc: 5 * GemmPlan.Create(isa, CacheSizes.Fallback).MR, kc: 64, nc: 3 * GemmPlan.Create(isa, CacheSizes.Fallback).NR, origin: "test");
        var bf16Plan = GemmPlan.Create(isa, CacheSizes.Fallback, GemmPrecision.Bf16, mc: fp32Plan.MC, kc: fp32Plan.KC, nc: fp32Plan.NC, origin: "test");
        foreach (var (m, n, k) in Shapes.Append((70, 200, 131)))
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                int lda = ta ? m : k, ldb = tb ? k : n;
                var a = Random(m * k, 7 + m);
                var b = Random(k * n, 8 + k);
                var ar = new float[a.Length];
                var br = new float[b.Length];
                Bf16.Round(a, ar);
                Bf16.Round(b, br);
                var c0 = Random(m * n, 9);
                bool gemv = m == 1 || (m <= Gemm.SkinnyRows && tb && !ta);
                foreach (var (alpha, beta) in gemv ? [] : new[] { (1f, 0f), (-0.5f, 1f), (2f, 0.25f) })
                {
                    var expect = (float[])c0.Clone();
                    var got = (float[])c0.Clone();
                    Run(isa, ta, tb, m, n, k, ar, lda, br, ldb, alpha, beta, expect, n, GemmPrecision.Fp32, fp32Plan);
                    Run(isa, ta, tb, m, n, k, a, lda, b, ldb, alpha, beta, got, n, GemmPrecision.Bf16, bf16Plan);
                    for (int i = 0; i < expect.Length; i++)
                        if (got[i] != expect[i])
                            Assert.Fail($"{isa} {(ta ? 'T' : 'N')}{(tb ? 'T' : 'N')} m={m} n={n} k={k} α={alpha} β={beta}: C[{i}] = {got[i]}, fp32 on rounded inputs {expect[i]}");
                }
                // Each path's own host plan: equal to fp32 rounding.
                var e2 = new float[m * n];
                var g2 = new float[m * n];
                Run(isa, ta, tb, m, n, k, ar, lda, br, ldb, 1f, 0f, e2, n, GemmPrecision.Fp32);
                Run(isa, ta, tb, m, n, k, a, lda, b, ldb, 1f, 0f, g2, n, GemmPrecision.Bf16);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double abs = 0;
                        for (int p = 0; p < k; p++)
                            abs += Math.Abs((double)(ta ? ar[p * lda + i] : ar[i * lda + p]) * (tb ? br[j * ldb + p] : br[p * ldb + j]));
                        double tol = 2 * (k + 3) * U32 * abs + 1e-30;
                        Assert.True(Math.Abs(g2[i * n + j] - e2[i * n + j]) <= tol, $"{isa} m={m} n={n} k={k}: C[{i},{j}] {g2[i * n + j]} vs {e2[i * n + j]} ± {tol}");
                    }
            }
    }

    [Fact]
    public void Single_rows_and_threads_take_the_same_rounded_path()
    {
        // m = 1 and few-row NT products skip packing in fp32; in bf16 they must still see rounded inputs, and two
        // threads must give the bits of one.
        const int n = 300, k = 257;
        var w = Random(n * k, 21);
        var x = Random(400 * k, 22);
        var all = new float[400 * n];
        var one = new float[400 * n];
        Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, 400, n, k, 1f, x, k, w, k, 0f, all, n, maxThreads: 2, precision: GemmPrecision.Bf16);
        Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, 400, n, k, 1f, x, k, w, k, 0f, one, n, maxThreads: 1, precision: GemmPrecision.Bf16);
        Assert.Equal(one, all);
        var xr = new float[k];
        var wr = new float[w.Length];
        Bf16.Round(w, wr);
        foreach (int rows in new[] { 1, 3 })
        {
            var y = new float[rows * n];
            var yr = new float[rows * n];
            Gemm.NT(y, x.AsSpan(0, rows * k), w, rows, n, k, precision: GemmPrecision.Bf16);
            var xs = new float[rows * k];
            Bf16.Round(x.AsSpan(0, rows * k), xs);
            Gemm.NT(yr, xs, wr, rows, n, k);
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - yr[i]) <= 1e-4 * (Math.Abs(yr[i]) + 1), $"rows={rows}: y[{i}] {y[i]} vs {yr[i]}");
            Assert.NotEqual(yr, new float[rows * n]);
        }
    }

    /// <summary>Independent oracle: round |x| to 8 significant bits in double with ties to even (subnormals: a fixed 2⁻¹³³ step).</summary>
    private static float Oracle(float x)
    {
        if (float.IsNaN(x) || float.IsInfinity(x) || x == 0) return x;
        double ax = Math.Abs((double)x);
        int e = Math.Max(Math.ILogB(ax), -126);
        double ulp = Math.ScaleB(1.0, e - 7);
        double r = Math.Round(ax / ulp, MidpointRounding.ToEven) * ulp;
        if (r >= Math.ScaleB(1.0, 128)) r = double.PositiveInfinity;
        return (float)(x < 0 ? -r : r);
    }

    [Fact]
    public void Rounding_is_nearest_even_with_quiet_nans()
    {
        Assert.Equal(1f, Bf16.Round(1f + MathF.ScaleB(1, -8)));                          // tie → even (down)
        Assert.Equal(1f + MathF.ScaleB(1, -6), Bf16.Round(1f + 3 * MathF.ScaleB(1, -8))); // tie → even (up)
        Assert.Equal(1f + MathF.ScaleB(1, -7), Bf16.Round(1f + MathF.ScaleB(1, -8) + MathF.ScaleB(1, -20)));
        Assert.Equal(float.PositiveInfinity, Bf16.Round(float.MaxValue));
        Assert.Equal(float.NegativeInfinity, Bf16.Round(float.NegativeInfinity));
        uint nan = Bf16.RoundBits(0x7F80_0001u); // a signalling NaN whose payload lies below bit 16
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle(nan)));
        Assert.Equal(0x7FC0_0000u, nan);
        Assert.Equal(0xFFC0_0000u, Bf16.RoundBits(0xFF80_0001u));
        var rng = new Random(5);
        var bits = new uint[1 << 14];
        for (int i = 0; i < bits.Length; i++) bits[i] = (uint)rng.NextInt64(0, 1L << 32);
        bits[0] = 0x0000_8000u; bits[1] = 0x0001_8000u; bits[2] = 0x7F7F_8000u; bits[3] = 0x8000_7FFFu; bits[4] = 0x7F80_0000u;
        foreach (uint u in bits)
        {
            float x = BitConverter.UInt32BitsToSingle(u), r = Bf16.Round(x);
            if (float.IsNaN(x)) Assert.True(float.IsNaN(r));
            else Assert.Equal(Oracle(x), r);
            Assert.Equal(0u, BitConverter.SingleToUInt32Bits(r) & 0xFFFFu);
        }
        // The vector forms the packer uses give the scalar's bits.
        for (int i = 0; i + 16 <= bits.Length; i += 16)
        {
            var v = System.Runtime.Intrinsics.Vector512.Create(bits.AsSpan(i, 16));
            var w = Bf16.RoundBits(v);
            var h = Bf16.RoundBits(System.Runtime.Intrinsics.Vector256.Create(bits.AsSpan(i, 8)));
            var q = Bf16.RoundBits(System.Runtime.Intrinsics.Vector128.Create(bits.AsSpan(i, 4)));
            for (int j = 0; j < 16; j++) Assert.Equal(Bf16.RoundBits(bits[i + j]), w[j]);
            for (int j = 0; j < 8; j++) Assert.Equal(Bf16.RoundBits(bits[i + j]), h[j]);
            for (int j = 0; j < 4; j++) Assert.Equal(Bf16.RoundBits(bits[i + j]), q[j]);
        }
    }
}
