using System.Buffers.Binary;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// <see cref="QuantMatMul"/> against dequantize-then-multiply in double precision, for every weight type and every
/// instruction-set path this CPU runs.
/// <para>
/// Bound. The weights enter exactly (the kernels decode the same codes and scales as <see cref="GgmlQuants.Dequantize"/>).
/// Integer types with few rows quantize each activation block b (32 or 256 values) to q = round(x/d_b),
/// d_b = max_b|x|/127, so |x − d_b·q| ≤ d_b/2 = max_b|x|/254 per element (×(1 + 10⁻³) for the rounding of x·(1/d_b) in
/// fp32). Integer block sums are exact; the fp32 side (d_w·d_x, the per-block FMA accumulation and the final reductions
/// over ≤ n/32 + 16 terms) adds at most γ·Σ|w·x̂| with γ = (n/32 + 16)·2⁻²³ generously. So per output
/// |ŷ − y| ≤ Σ_b (max_b|x|/254)(1 + 10⁻³)·Σ_{i∈b}|w_i| + γ·Σ_i |w_i|·(|x_i| + max_b|x|/254).
/// Float weight types and the dequantized-panel GEMM path (≥ <see cref="QuantMatMul.GemmRows"/> rows) use fp32 x:
/// |ŷ − y| ≤ (n + 3)·2⁻²⁴·Σ|w·x| (Higham §3.1, as in <see cref="GemmTests"/>). A wrong code, scale, offset or min moves an
/// output by far more than these bounds.
/// </para>
/// </summary>
public class QuantMatMulTests
{
    private static readonly GgmlType[] Types =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    public static IEnumerable<object[]> Cases() =>
        from t in Types
        from isa in new[] { QuantIsa.AvxVnni, QuantIsa.Avx2, QuantIsa.Scalar }
        where QuantMatMul.IsSupported(isa)
        select new object[] { t, isa.ToString() }; // QuantIsa is internal: passed by name

    /// <summary>Random valid weights: quantized from floats where <see cref="GgmlQuants.Quantize"/> can, else random
    /// code bytes with fp16 scales (and mins) of a plausible size written over the scale fields.</summary>
    internal static byte[] RandomWeights(GgmlType type, int outDim, int inDim, int seed)
    {
        var rng = new Random(seed);
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0)
        {
            var f = new float[outDim * inDim];
            for (int i = 0; i < f.Length; i++) f[i] = (float)(rng.NextDouble() * 2 - 1) * 0.1f;
            return GgmlQuants.Quantize(type, f);
        }
        var w = new byte[GgmlTypes.ByteCount(type, (long)outDim * inDim)];
        rng.NextBytes(w);
        int ts = GgmlTypes.TypeSize(type);
        void Scale(int offset, double magnitude) =>
            BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(offset), (Half)((rng.NextDouble() * 1.5 + 0.5) * magnitude * (rng.Next(2) * 2 - 1)));
        for (int b = 0; b < w.Length / ts; b++)
        {
            int o = b * ts;
            switch (type)
            {
                case GgmlType.Q4_0 or GgmlType.Q5_0: Scale(o, 0.01); break;
                case GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K: Scale(o, 0.002); Scale(o + 2, 0.01); break;
                case GgmlType.Q6_K: Scale(o + 208, 0.0005); break;
            }
        }
        return w;
    }

    internal static float[] RandomActivations(int rows, int inDim, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * inDim];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        // A few outliers, as real activations have: they set the block maxima and so the quantization step.
        for (int i = 0; i < x.Length / 97; i++) x[rng.Next(x.Length)] *= 20;
        return x;
    }

    private static void CheckAgainstReference(GgmlType type, QuantIsa isa, int rows, int outDim, int inDim, int threads)
    {
        var w = RandomWeights(type, outDim, inDim, 1 + inDim + (int)type);
        var x = RandomActivations(rows, inDim, 7 + rows);
        var wf = new float[outDim * inDim];
        GgmlQuants.Dequantize(type, w, wf);
        var y = new float[rows * outDim];
        using var pool = new WorkerPool(threads);
        QuantMatMul.Forward(y, x, rows, w, type, outDim, inDim, pool, isa);

        bool intActs = QuantDot.IsInteger(type) && rows < QuantMatMul.GemmRows;
        int block = QuantDot.IsKQuant(type) ? 256 : 32;
        double gamma = intActs ? (inDim / 32 + 16) * Math.Pow(2, -23) : (inDim + 3) * Math.Pow(2, -24);
        // Per activation block: the quantization step bound max_b|x|/254 (0 when x stays fp32).
        var step = new double[rows * (inDim / block)];
        for (int t = 0; t < rows; t++)
            for (int b = 0; b < inDim / block; b++)
            {
                double amax = 0;
                for (int i = b * block; i < (b + 1) * block; i++) amax = Math.Max(amax, Math.Abs(x[t * inDim + i]));
                step[t * (inDim / block) + b] = intActs ? amax / 254 : 0;
            }
        for (int t = 0; t < rows; t++)
            for (int o = 0; o < outDim; o++)
            {
                double exact = 0, abs = 0, quantError = 0;
                for (int b = 0; b < inDim / block; b++)
                {
                    double st = step[t * (inDim / block) + b], wAbs = 0;
                    for (int i = b * block; i < (b + 1) * block; i++)
                    {
                        double wi = wf[o * inDim + i], xi = x[t * inDim + i];
                        exact += wi * xi;
                        abs += Math.Abs(wi) * (Math.Abs(xi) + st);
                        wAbs += Math.Abs(wi);
                    }
                    quantError += st * (1 + 1e-3) * wAbs;
                }
                double bound = quantError + gamma * abs + 1e-30;
                double err = Math.Abs(y[t * outDim + o] - exact);
                Assert.True(err <= bound,
                    $"{type} {isa} rows {rows} threads {threads}: y[{t},{o}] = {y[t * outDim + o]} vs {exact}, error {err:E3} > bound {bound:E3}");
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDequantizedProduct(GgmlType type, string isaName)
    {
        var isa = Enum.Parse<QuantIsa>(isaName);
        // 150 output rows: not a multiple of the 16-row chunks nor of the 32-column packed GEMM slivers.
        foreach (int rows in new[] { 1, 3, 17, 64, QuantMatMul.GemmRows + 1 })
            CheckAgainstReference(type, isa, rows, 150, 512, threads: 2);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SameResultForAnyThreadCount(GgmlType type, string isaName)
    {
        var isa = Enum.Parse<QuantIsa>(isaName);
        const int outDim = 301, inDim = 1024;
        var w = RandomWeights(type, outDim, inDim, 3);
        foreach (int rows in new[] { 1, 3, 40, QuantMatMul.GemmRows })
        {
            var x = RandomActivations(rows, inDim, 5);
            var y1 = new float[rows * outDim];
            var y2 = new float[rows * outDim];
            using (var p1 = new WorkerPool(1)) QuantMatMul.Forward(y1, x, rows, w, type, outDim, inDim, p1, isa);
            using (var p2 = new WorkerPool(2)) QuantMatMul.Forward(y2, x, rows, w, type, outDim, inDim, p2, isa);
            Assert.Equal(y1, y2);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PromptPathMatchesGemmOnDequantizedWeights(GgmlType type, string isaName)
    {
        // 512 rows against 2100 output rows × 768 inputs: more than one NC = 2048 column panel, one KC = 512 depth
        // block plus a remainder, a partial 32-column sliver, several MC row blocks. The prompt path must give exactly
        // what the fp32 GEMM gives on the dequantized weights (same blocking, same kernel), on 1 and 2 threads.
        var isa = Enum.Parse<QuantIsa>(isaName);
        if (isa == QuantIsa.Avx2) return; // the GEMM path does not depend on the int8 dot path: AvxVnni/Scalar cover it
        // The scalar kernel (NC = 1024, KC = 256) gets a smaller product with the same coverage, to stay well under 2 s.
        bool scalar = isa == QuantIsa.Scalar;
        int rows = scalar ? 160 : 512, outDim = scalar ? 1100 : 2100;
        const int inDim = 768;
        var w = RandomWeights(type, outDim, inDim, 21);
        var x = RandomActivations(rows, inDim, 23);
        var wf = new float[outDim * inDim];
        GgmlQuants.Dequantize(type, w, wf);
        var gemmIsa = isa == QuantIsa.Scalar ? GemmIsa.Scalar : GemmIsa.Auto;
        var expected = new float[rows * outDim];
        Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, rows, outDim, inDim, 1f, x, inDim, wf, inDim, 0f, expected, outDim, gemmIsa, 1);
        foreach (int threads in new[] { 1, 2 })
        {
            var y = new float[rows * outDim];
            using var pool = new WorkerPool(threads);
            QuantMatMul.Forward(y, x, rows, w, type, outDim, inDim, pool, isa);
            Assert.True(expected.AsSpan().SequenceEqual(y), $"{type} {isa} {threads} threads: prompt path differs from Gemm on dequantized weights");
        }
    }

    [Fact]
    public void VectorPathsAgreeWithScalarOnIntegerActivations()
    {
        // The vector and scalar kernels see the same int8 activations and the same integer block sums, so they may
        // differ only by fp32 accumulation order: far below the quantization bound.
        foreach (var type in Types.Where(QuantDot.IsInteger))
        {
            const int outDim = 37, inDim = 768;
            var w = RandomWeights(type, outDim, inDim, 11);
            var x = RandomActivations(2, inDim, 13);
            var ys = new float[2 * outDim];
            QuantMatMul.Forward(ys, x, 2, w, type, outDim, inDim, null, QuantIsa.Scalar);
            foreach (var isa in new[] { QuantIsa.AvxVnni, QuantIsa.Avx2 }.Where(QuantMatMul.IsSupported))
            {
                var yv = new float[2 * outDim];
                QuantMatMul.Forward(yv, x, 2, w, type, outDim, inDim, null, isa);
                for (int i = 0; i < yv.Length; i++)
                    Assert.True(Math.Abs(yv[i] - ys[i]) <= 1e-4 * (Math.Abs(ys[i]) + 1), $"{type} {isa} [{i}]: {yv[i]} vs scalar {ys[i]}");
            }
        }
    }

    [Fact]
    public void RejectsBadShapes()
    {
        var w = new byte[GgmlTypes.ByteCount(GgmlType.Q4_0, 64)];
        Assert.Throws<ArgumentException>(() => QuantMatMul.Forward(new float[2], new float[48], 1, w, GgmlType.Q4_0, 2, 48));
        Assert.Throws<ArgumentException>(() => QuantMatMul.Forward(new float[2], new float[32], 1, w, GgmlType.Q4_0, 2, 64));
        Assert.False(QuantMatMul.Supports(GgmlType.Q8_K));
    }
}
