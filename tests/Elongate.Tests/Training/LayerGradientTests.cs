using Elongate.Training;
using Elongate.Kernels;

namespace Elongate.Tests.Training;

/// <summary>
/// Every layer's backward against central differences of its own forward in double (see <see cref="GradCheck"/>
/// for the tolerance). Each check uses the scalar L = Σ w ⊙ y with fixed random w, so dL/dy = w.
/// </summary>
public class LayerGradientTests
{
    [Fact]
    public void Linear_backward_matches_finite_differences_and_accumulates()
    {
        var rng = new Random(1);
        int rows = 3, inDim = 5, outDim = 4;
        var x = GradCheck.Random(rng, rows * inDim);
        var w = GradCheck.Random(rng, outDim * inDim);
        var dy = GradCheck.Random(rng, rows * outDim);
        var y = new double[rows * outDim];
        double Loss() { Linear.Forward<double>(y, x, w, rows, inDim, outDim); return GradCheck.Dot(y, dy); }
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        Linear.Backward<double>(dx, dw, dy, x, w, rows, inDim, outDim);
        GradCheck.Check("linear dX", x, dx, Loss);
        GradCheck.Check("linear dW", w, dw, Loss);
        // A second backward adds the same amount again (gradients accumulate, llm.c style).
        var dx2 = (double[])dx.Clone();
        var dw2 = (double[])dw.Clone();
        Linear.Backward<double>(dx2, dw2, dy, x, w, rows, inDim, outDim);
        for (int i = 0; i < dx.Length; i++) Assert.Equal(2 * dx[i], dx2[i], 12);
        for (int i = 0; i < dw.Length; i++) Assert.Equal(2 * dw[i], dw2[i], 12);
    }

    [Fact]
    public void Float_linear_uses_the_inference_matmul_and_parallel_paths_agree()
    {
        // Large enough to take the parallel paths of the generic GEMM; compared against a double reference.
        var rng = new Random(2);
        int rows = 40, inDim = 96, outDim = 80;
        var x = GradCheck.RandomFloat(rng, rows * inDim);
        var w = GradCheck.RandomFloat(rng, outDim * inDim);
        var dy = GradCheck.RandomFloat(rng, rows * outDim);
        var y = new float[rows * outDim];
        Linear.Forward<float>(y, x, w, rows, inDim, outDim);
        var dx = new float[x.Length];
        var dw = new float[w.Length];
        Linear.Backward<float>(dx, dw, dy, x, w, rows, inDim, outDim);
        var yRef = new float[y.Length];
        var dxRef = new float[dx.Length];
        var dwRef = new float[dw.Length];
        for (int t = 0; t < rows; t++)
            for (int o = 0; o < outDim; o++)
            {
                double s = 0;
                for (int i = 0; i < inDim; i++) s += (double)x[t * inDim + i] * w[o * inDim + i];
                yRef[t * outDim + o] = (float)s;
            }
        for (int t = 0; t < rows; t++)
            for (int i = 0; i < inDim; i++)
            {
                double s = 0;
                for (int o = 0; o < outDim; o++) s += (double)dy[t * outDim + o] * w[o * inDim + i];
                dxRef[t * inDim + i] = (float)s;
            }
        for (int o = 0; o < outDim; o++)
            for (int i = 0; i < inDim; i++)
            {
                double s = 0;
                for (int t = 0; t < rows; t++) s += (double)dy[t * outDim + o] * x[t * inDim + i];
                dwRef[o * inDim + i] = (float)s;
            }
        // fp32 sums of ≤ 96 terms: relative error a few 1e-7.
        Assert.True(GradCheck.RelativeError(y, yRef) < 1e-6);
        Assert.True(GradCheck.RelativeError(dx, dxRef) < 1e-6);
        Assert.True(GradCheck.RelativeError(dw, dwRef) < 1e-6);
    }

    [Fact]
    public void Embedding_backward_matches_finite_differences_with_repeated_tokens()
    {
        var rng = new Random(3);
        int vocab = 6, dim = 4;
        int[] tokens = [0, 2, 2, 5, 2];
        var table = GradCheck.Random(rng, vocab * dim);
        var dy = GradCheck.Random(rng, tokens.Length * dim);
        var y = new double[tokens.Length * dim];
        double Loss() { Embedding.Forward<double>(y, tokens, table, dim); return GradCheck.Dot(y, dy); }
        var dTable = new double[table.Length];
        Embedding.Backward<double>(dTable, dy, tokens, dim);
        GradCheck.Check("embedding dTable", table, dTable, Loss);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward<double>(y, [6], table, dim));
    }

    [Fact]
    public void RmsNorm_backward_matches_finite_differences()
    {
        var rng = new Random(4);
        int rows = 3, n = 7;
        var x = GradCheck.Random(rng, rows * n, 2);
        var gain = GradCheck.Random(rng, n);
        var dy = GradCheck.Random(rng, rows * n);
        var y = new double[rows * n];
        var rstd = new double[rows];
        double Loss() { RmsNormLayer.Forward<double>(y, rstd, x, gain, rows, 1e-5); return GradCheck.Dot(y, dy); }
        Loss();
        var dx = new double[x.Length];
        var dg = new double[n];
        RmsNormLayer.Backward<double>(dx, dg, dy, x, gain, rstd, rows);
        GradCheck.Check("rmsnorm dX", x, dx, Loss);
        GradCheck.Check("rmsnorm dGain", gain, dg, Loss);
    }

    [Fact]
    public void Float_RmsNorm_forward_equals_the_inference_kernel_bit_for_bit()
    {
        var rng = new Random(5);
        int rows = 4, n = 33;
        var x = GradCheck.RandomFloat(rng, rows * n, 3);
        var gain = GradCheck.RandomFloat(rng, n);
        var y = new float[x.Length];
        var yRef = new float[x.Length];
        RmsNormLayer.Forward<float>(y, new float[rows], x, gain, rows, 1e-5f);
        Elongate.Kernels.RmsNorm.Forward(yRef, x, gain, rows, 1e-5f);
        Assert.Equal(yRef, y);
    }

    [Theory]
    [InlineData(6, 6, false)] // full rotation
    [InlineData(6, 4, false)] // partial rotary dimension: the last 2 dims of each head pass through
    [InlineData(6, 6, true)]  // xPos-style per-position, per-pair scale
    [InlineData(8, 4, true)]
    public void Rope_backward_matches_finite_differences(int headDim, int rotaryDim, bool scaled)
    {
        var rng = new Random(6 + headDim + rotaryDim);
        int batch = 2, seqLen = 5, heads = 3, rows = batch * seqLen, pairs = rotaryDim / 2;
        // Any table works: the layer is linear in x for every (cos, sin, scale), and its backward is the transpose.
        var angles = GradCheck.Random(rng, seqLen * pairs, 4);
        var cos = angles.Select(Math.Cos).ToArray();
        var sin = angles.Select(Math.Sin).ToArray();
        var scale = scaled ? angles.Select(a => 0.5 + Math.Abs(a) / 4).ToArray() : [];
        var x = GradCheck.Random(rng, rows * heads * headDim);
        var dy = GradCheck.Random(rng, x.Length);
        var y = new double[x.Length];
        double Loss() { x.CopyTo(y, 0); RopeRotation.Forward<double>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale); return GradCheck.Dot(y, dy); }
        var dx = (double[])dy.Clone();
        RopeRotation.Backward<double>(dx, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale);
        GradCheck.Check($"rope d{headDim}/{rotaryDim} scaled={scaled}", x, dx, Loss);
        if (!scaled)
        {
            // Unscaled RoPE is a rotation: its norm is preserved and the backward undoes the forward exactly.
            x.CopyTo(y, 0);
            RopeRotation.Forward<double>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin);
            Assert.Equal(Math.Sqrt(GradCheck.Dot(x, x)), Math.Sqrt(GradCheck.Dot(y, y)), 10);
            RopeRotation.Backward<double>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin);
            for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], y[i], 12);
        }
    }

    [Fact]
    public void Rope_standard_table_rotates_pair_i_at_position_p_by_p_times_theta_power()
    {
        var (cos, sin) = RopeTables.StandardTable<double>(seqLen: 4, rotaryDim: 4, theta: 10000);
        // pair 1 of a 4-dim rotation: θ_1 = 10000^(−2/4) = 0.01; position 3 → angle 0.03.
        Assert.Equal(Math.Cos(0.03), cos[3 * 2 + 1], 6);
        Assert.Equal(Math.Sin(0.03), sin[3 * 2 + 1], 6);
        Assert.Equal(Math.Cos(3.0), cos[3 * 2 + 0], 6);
    }

    [Theory]
    [InlineData(false)] // Backward: adds into the gradients
    [InlineData(true)]  // BackwardOverwrite: the one-pass form that writes them (NaN-filled first: never read)
    public void SwiGlu_backward_matches_finite_differences(bool overwrite)
    {
        var rng = new Random(overwrite ? 13 : 7);
        int n = 12;
        var gate = GradCheck.Random(rng, n, 4);
        var up = GradCheck.Random(rng, n, 2);
        var dy = GradCheck.Random(rng, n);
        var h = new double[n];
        double Loss() { SwiGluLayer.Forward<double>(h, gate, up); return GradCheck.Dot(h, dy); }
        var dGate = new double[n];
        var dUp = new double[n];
        if (overwrite)
        {
            Array.Fill(dGate, double.NaN);
            Array.Fill(dUp, double.NaN);
            SwiGluLayer.BackwardOverwrite<double>(dGate, dUp, dy, gate, up);
        }
        else SwiGluLayer.Backward<double>(dGate, dUp, dy, gate, up);
        GradCheck.Check("swiglu dGate", gate, dGate, Loss);
        GradCheck.Check("swiglu dUp", up, dUp, Loss);
    }

    [Fact]
    public void CrossEntropy_backward_matches_finite_differences_with_ignored_targets()
    {
        var rng = new Random(8);
        int rows = 5, vocab = 7;
        int[] targets = [3, CrossEntropy.DefaultIgnoreIndex, 0, 6, CrossEntropy.DefaultIgnoreIndex];
        var logits = GradCheck.Random(rng, rows * vocab, 3);
        var lse = new double[rows];
        double Loss() => CrossEntropy.Forward<double>(logits, lse, targets, rows, vocab);
        double loss = Loss();
        // Reference: mean over the 3 counted rows of −log softmax.
        double expected = 0;
        foreach (int t in new[] { 0, 2, 3 })
        {
            var row = logits.AsSpan(t * vocab, vocab).ToArray();
            expected += Math.Log(row.Sum(Math.Exp)) - row[targets[t]];
        }
        Assert.Equal(expected / 3, loss, 12);
        var d = new double[logits.Length];
        CrossEntropy.Backward<double>(d, logits, lse, targets, rows, vocab, 1.0);
        GradCheck.Check("cross-entropy dLogits", logits, d, Loss);
        for (int i = 0; i < vocab; i++) { Assert.Equal(0, d[vocab + i]); Assert.Equal(0, d[4 * vocab + i]); }
        // In place over the logits, scaled by an upstream gradient.
        var inPlace = (double[])logits.Clone();
        CrossEntropy.Backward<double>(inPlace, inPlace, lse, targets, rows, vocab, 0.5);
        for (int i = 0; i < d.Length; i++) Assert.Equal(0.5 * d[i], inPlace[i], 14);
    }

    [Fact]
    public void CrossEntropy_with_every_target_ignored_is_zero_and_bad_targets_throw()
    {
        var logits = new double[2 * 3];
        var lse = new double[2];
        Assert.Equal(0, CrossEntropy.Forward<double>(logits, lse, [-100, -100], 2, 3));
        var d = Enumerable.Repeat(9.0, 6).ToArray();
        CrossEntropy.Backward<double>(d, logits, lse, [-100, -100], 2, 3, 1.0);
        Assert.All(d, v => Assert.Equal(0, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward<double>(logits, lse, [3, 0], 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward<double>(logits, lse, [-1, 0], 2, 3));
    }
}
