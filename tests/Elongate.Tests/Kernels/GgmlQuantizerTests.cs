using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;
using Elongate.Tests.Formats;
using Xunit.Abstractions;

namespace Elongate.Tests.Kernels;

/// <summary>
/// Our reference quantizers against llama.cpp's own, called block for block: ggml_quantize_chunk from the ggml-base
/// library LLamaSharp 0.30.0 loads, with no importance matrix (the path llama-quantize takes without --imatrix, which
/// runs the quantize_row_*_ref functions). Inputs include the awkward cases (all zero, constant, one outlier, exact
/// rounding ties, tiny and huge magnitudes, one sign only), where a different rounding rule or comparison would
/// show. The whole-file comparison through llama_model_quantize is in LlamaCppQuantizerTests.
/// </summary>
public class GgmlQuantizerTests(ITestOutputHelper output)
{
    private static readonly GgmlType[] Types = [GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    private static nint _ggml;

    /// <summary>ggml-base as llama.cpp itself loaded it (found through the process's mappings, Linux).</summary>
    private static unsafe delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint> QuantizeChunk()
    {
        LlamaCppNative.EnsureLoaded();
        if (_ggml == 0)
        {
            Skip.IfNot(OperatingSystem.IsLinux(), "finds ggml-base through /proc/self/maps");
            // Loading llama.cpp does not load every dependency until a model is opened on some versions: force it.
            var path = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())
                .FirstOrDefault(p => p.EndsWith("/libggml-base.so", StringComparison.Ordinal));
            Skip.If(path is null, "ggml-base is not loaded");
            _ggml = NativeLibrary.Load(path!);
        }
        return (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)NativeLibrary.GetExport(_ggml, "ggml_quantize_chunk");
    }

    internal static unsafe byte[] Theirs(GgmlType type, float[] x, int rowLength)
    {
        var fn = QuantizeChunk();
        var dst = new byte[GgmlTypes.ByteCount(type, x.Length)];
        lock (LlamaCppNative.Lock)
            fixed (float* px = x)
            fixed (byte* pd = dst)
            {
                nuint n = fn((int)type, px, pd, 0, x.Length / rowLength, rowLength, null);
                Assert.Equal((nuint)dst.Length, n);
            }
        return dst;
    }

    /// <summary>Rows of 512 weights (2 super-blocks, 16 small blocks) from a mix of distributions and corner cases.</summary>
    private static float[] Inputs(int seed)
    {
        var rng = new Random(seed);
        var rows = new List<float[]>();
        float Gauss() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        foreach (var scale in new[] { 1e-30f, 1e-6f, 0.02f, 1f, 300f, 60000f })
        {
            rows.Add(Enumerable.Range(0, 512).Select(_ => Gauss() * scale).ToArray());
            rows.Add(Enumerable.Range(0, 512).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray());
            rows.Add(Enumerable.Range(0, 512).Select(_ => (float)rng.NextDouble() * scale).ToArray());          // one sign only
            rows.Add(Enumerable.Range(0, 512).Select(_ => -(float)rng.NextDouble() * scale - scale).ToArray()); // negative, away from 0
        }
        rows.Add(new float[512]);                                                                  // all zero
        rows.Add(Enumerable.Repeat(0.75f, 512).ToArray());                                          // constant
        rows.Add(Enumerable.Range(0, 512).Select(i => i % 97 == 0 ? 50f : Gauss() * 0.01f).ToArray()); // outliers
        rows.Add(Enumerable.Range(0, 512).Select(i => (float)(i % 33 - 16)).ToArray());              // integers: exact ties
        rows.Add(Enumerable.Range(0, 512).Select(i => (i % 17 - 8) * 0.125f).ToArray());             // dyadic steps
        rows.Add(Enumerable.Range(0, 512).Select(i => i % 2 == 0 ? 0f : Gauss()).ToArray());         // half zeros
        rows.Add(Enumerable.Range(0, 512).Select(i => i % 32 < 16 ? 0f : Gauss()).ToArray());        // zero sub-blocks
        rows.Add(Enumerable.Range(0, 512).Select(i => i % 256 < 200 ? 0f : 1e-3f * Gauss()).ToArray());
        return rows.SelectMany(r => r).ToArray();
    }

    public static TheoryData<GgmlType> AllTypes() => new(Types);

    [SkippableTheory]
    [MemberData(nameof(AllTypes))]
    public void BlocksAreByteIdenticalToLlamaCppReferenceQuantizer(GgmlType type)
    {
        var x = Inputs(7);
        var theirs = Theirs(type, x, 512);
        var ours = GgmlQuants.Quantize(type, x);
        int ts = GgmlTypes.TypeSize(type), blocks = theirs.Length / ts, differ = 0, first = -1;
        for (int b = 0; b < blocks; b++)
            if (!ours.AsSpan(b * ts, ts).SequenceEqual(theirs.AsSpan(b * ts, ts)))
            {
                differ++;
                if (first < 0) first = b;
            }
        output.WriteLine($"{type}: {blocks - differ}/{blocks} blocks identical");
        Assert.True(differ == 0, $"{type}: {differ} of {blocks} blocks differ, first #{first} (weights {first * GgmlTypes.BlockSize(type)}…)");
    }

    [SkippableTheory]
    [MemberData(nameof(AllTypes))]
    public void LargeRandomMatricesAreByteIdenticalAcrossThreads(GgmlType type)
    {
        // 256 rows of 1024: enough blocks for the parallel path, whose split must not change a byte.
        var rng = new Random(3);
        var x = new float[256 * 1024];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (1 + (i >> 10) % 7);
        Assert.True(GgmlQuants.Quantize(type, x).AsSpan().SequenceEqual(Theirs(type, x, 1024)), $"{type} differs");
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 4)]
    [InlineData(GgmlType.Q4_1, 4)]
    [InlineData(GgmlType.Q5_0, 5)]
    [InlineData(GgmlType.Q5_1, 5)]
    [InlineData(GgmlType.Q4_K, 4)]
    [InlineData(GgmlType.Q5_K, 5)]
    [InlineData(GgmlType.Q6_K, 6)]
    public void DequantizedValuesAreWithinTheFormatsResolution(GgmlType type, int bits)
    {
        // The resolution of a b-bit format on weights of magnitude ≤ A is the grid step 2A/(2^b − 1) (A taken over
        // each 256-weight stretch, so blocks and super-blocks are judged alike). Round-to-nearest on a grid gives errors
        // ≤ step/2 and an RMS of step/√12 ≈ 0.29 step for spread-out weights; the formats give some of that away (Q4_0
        // and Q5_0 clamp the level opposite the extreme, k-quants round sub-block scales to 6 or 8 bits and clip in
        // their scale search), so the bounds are one step for any weight and 0.35 step RMS. A wrong bit or nibble order
        // gives errors of many steps.
        var rng = new Random(5);
        int n = 64 * 256;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i / 256 % 5 + 1);
        var y = new float[n];
        GgmlQuants.Dequantize(type, GgmlQuants.Quantize(type, x), y);
        double worst = 0, sq = 0, stepSq = 0;
        for (int b = 0; b < n; b += 256)
        {
            float amax = 0;
            for (int i = b; i < b + 256; i++) amax = Math.Max(amax, Math.Abs(x[i]));
            double step = 2.0 * amax / ((1 << bits) - 1);
            for (int i = b; i < b + 256; i++)
            {
                double e = Math.Abs(x[i] - y[i]);
                worst = Math.Max(worst, e / step);
                sq += e * e;
                stepSq += step * step;
            }
        }
        double rms = Math.Sqrt(sq / stepSq);
        output.WriteLine($"{type}: worst {worst:F3} steps, RMS {rms:F3} steps");
        Assert.True(worst <= 1.0, $"{type}: a weight is off by {worst:F3} steps");
        Assert.True(rms <= 0.35, $"{type}: RMS error {rms:F3} steps");
    }

    [Fact]
    public void NearestIntRoundsHalvesToEvenLikeGgml()
    {
        Assert.Equal([0, 2, 2, -2, -2, 3, -3, 0], new[] { 0.5f, 1.5f, 2.5f, -1.5f, -2.5f, 2.7f, -2.7f, -0.4f }.Select(GgmlQuantizer.NearestInt));
    }
}
