using Elongate.Formats;

namespace Elongate.Tests.Formats;

/// <summary>
/// The q/k row permutation is proven from RoPE itself, not from our own inverse: rotating adjacent pairs
/// (2i, 2i+1) of q = Wq·x must give the same numbers as rotating halves (i, i + r/2) of q' = permute(Wq)·x,
/// element for element after the permutation, hence identical attention scores q·k.
/// </summary>
public class HfRopePermutationTests
{
    private static float[] Random(int n, Random rng)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static float[] MatVec(float[] w, float[] x, int rows, int cols)
    {
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float s = 0;
            for (int c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
            y[r] = s;
        }
        return y;
    }

    /// <summary>Meta/llama2.c RoPE: pair (2i, 2i+1) of each head turns by pos·θ^(−2i/r), for 2i &lt; r.</summary>
    private static void RopeAdjacent(float[] v, int heads, int headDim, int rot, int pos, double theta)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < rot / 2; i++)
            {
                float angle = (float)(pos * Math.Pow(theta, -2.0 * i / rot));
                float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                int a = h * headDim + 2 * i, b = a + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cos - x1 * sin;
                v[b] = x1 * cos + x0 * sin;
            }
    }

    /// <summary>transformers' rotate_half RoPE: q·cos + rotate_half(q)·sin, element i paired with i + r/2, same frequencies.</summary>
    private static void RopeRotateHalf(float[] v, int heads, int headDim, int rot, int pos, double theta)
    {
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < rot / 2; i++)
            {
                float angle = (float)(pos * Math.Pow(theta, -2.0 * i / rot));
                float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                int a = h * headDim + i, b = a + rot / 2;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cos - x1 * sin;
                v[b] = x1 * cos + x0 * sin;
            }
    }

    private static double Dot(float[] a, int aOff, float[] b, int bOff, int n)
    {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double)a[aOff + i] * b[bOff + i];
        return s;
    }

    [Theory]
    [InlineData(4, 2, 8, 8, 32)]   // GQA, full rotary
    [InlineData(2, 2, 16, 16, 7)]  // MHA
    [InlineData(4, 1, 8, 4, 13)]   // MQA, partial rotary: half of each head rotates, the rest passes through
    [InlineData(3, 3, 10, 6, 5)]   // head size not a power of two, partial rotary
    public void RotateHalfOnPermutedWeights_EqualsAdjacentPairsOnOriginal(int heads, int kvHeads, int headDim, int rot, int seed)
    {
        var rng = new Random(seed);
        int dim = 12, qRows = heads * headDim, kRows = kvHeads * headDim;
        var wq = Random(qRows * dim, rng);
        var wk = Random(kRows * dim, rng);
        var x = Random(dim, rng);
        var y = Random(dim, rng);
        const double theta = 10000;
        int posQ = 37, posK = 11;

        var qMeta = MatVec(wq, x, qRows, dim);
        var kMeta = MatVec(wk, y, kRows, dim);
        RopeAdjacent(qMeta, heads, headDim, rot, posQ, theta);
        RopeAdjacent(kMeta, kvHeads, headDim, rot, posK, theta);

        var qHf = MatVec(HfRopePermutation.Permute(wq, heads, headDim, dim, rot), x, qRows, dim);
        var kHf = MatVec(HfRopePermutation.Permute(wk, kvHeads, headDim, dim, rot), y, kRows, dim);
        RopeRotateHalf(qHf, heads, headDim, rot, posQ, theta);
        RopeRotateHalf(kHf, kvHeads, headDim, rot, posK, theta);

        // Same reordering: Meta element (2i+j) of a head sits at HF element j·r/2 + i; the arithmetic is identical, so bit-equal.
        for (int h = 0; h < heads; h++)
            for (int r = 0; r < headDim; r++)
                Assert.Equal(qMeta[h * headDim + r], qHf[h * headDim + HfRopePermutation.HfRowOf(r, rot)]);

        // And the attention scores agree (summation order differs, so compare to 1e-12 relative in double).
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++)
        {
            int kv = h / group;
            double meta = Dot(qMeta, h * headDim, kMeta, kv * headDim, headDim);
            double hf = Dot(qHf, h * headDim, kHf, kv * headDim, headDim);
            Assert.Equal(meta, hf, Math.Abs(meta) * 1e-12 + 1e-15);
        }

        // Control: without the permutation, rotate-half scores differ, so the check above can fail.
        var qWrong = MatVec(wq, x, qRows, dim);
        var kWrong = MatVec(wk, y, kRows, dim);
        RopeRotateHalf(qWrong, heads, headDim, rot, posQ, theta);
        RopeRotateHalf(kWrong, kvHeads, headDim, rot, posK, theta);
        double maxDiff = 0;
        for (int h = 0; h < heads; h++)
            maxDiff = Math.Max(maxDiff, Math.Abs(Dot(qMeta, h * headDim, kMeta, h / group * headDim, headDim)
                                                 - Dot(qWrong, h * headDim, kWrong, h / group * headDim, headDim)));
        Assert.True(maxDiff > 1e-3, $"unpermuted weights should change the scores, max diff {maxDiff}");
    }

    [Fact]
    public void Permute_MatchesTransformersViewTransposeReshape()
    {
        // transformers: w.view(n_heads, d/n_heads/2, 2, cols).transpose(1, 2).reshape(d, cols),
        // i.e. out[h, j, i, c] = w[h, i, j, c], written here with explicit 4-D indexing.
        int heads = 3, headDim = 6, cols = 5, half = headDim / 2;
        var w = Enumerable.Range(0, heads * headDim * cols).Select(i => (float)i).ToArray();
        var expected = new float[w.Length];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < half; i++)
                    for (int c = 0; c < cols; c++)
                        expected[((h * 2 + j) * half + i) * cols + c] = w[((h * half + i) * 2 + j) * cols + c];
        Assert.Equal(expected, HfRopePermutation.Permute(w, heads, headDim, cols, headDim));
    }

    [Theory]
    [InlineData(4, 8, 8)]
    [InlineData(2, 16, 4)]
    [InlineData(1, 6, 0)]
    public void UnpermuteInvertsPermute(int heads, int headDim, int rot)
    {
        var rng = new Random(heads * 100 + headDim);
        int cols = 7;
        var w = Random(heads * headDim * cols, rng);
        var p = HfRopePermutation.Permute(w, heads, headDim, cols, rot);
        Assert.Equal(w, HfRopePermutation.Unpermute(p, heads, headDim, cols, rot));
        Assert.Equal(w, HfRopePermutation.Permute(HfRopePermutation.Unpermute(w, heads, headDim, cols, rot), heads, headDim, cols, rot));
        if (rot >= 4) Assert.NotEqual(w, p); // a real reordering, not the identity
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HfRopePermutation.Permute(new float[8], 1, 4, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => HfRopePermutation.Permute(new float[8], 1, 4, 2, 6));
        Assert.Throws<ArgumentException>(() => HfRopePermutation.Permute(new float[7], 1, 4, 2, 4));
    }
}
