using System.Numerics.Tensors;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// The fused element-wise kernels of the training model against the unfused composition they replace: residual add +
/// RMSNorm forward and the backward's input gradient bit for bit, since every element sees the same operations in the
/// same order, the gain gradient (summed in 32-row partials) to a rounding bound; SwiGLU's
/// one-pass backward bit for bit against the accumulating form and, in float, against a double evaluation of the
/// formula within a rounding bound (its exp is the vectorized one). Sizes cover both the serial path and the parallel
/// one (≥ 2¹⁵ elements), with row counts that leave a partial last task.
/// </summary>
public class FusedLayerTests
{
    public static TheoryData<int, int> NormShapes => new() { { 3, 7 }, { 5, 33 }, { 75, 512 }, { 131, 384 } };

    [Theory]
    [MemberData(nameof(NormShapes))]
    public void Residual_rmsnorm_forward_equals_add_then_rmsnorm_bit_for_bit(int rows, int n)
    {
        var rng = new Random(rows * 31 + n);
        var x = GradCheck.RandomFloat(rng, rows * n, 2);
        var delta = GradCheck.RandomFloat(rng, rows * n, 0.5);
        var gain = GradCheck.RandomFloat(rng, n);
        var sumRef = new float[rows * n];
        var yRef = new float[rows * n];
        var rstdRef = new float[rows];
        TensorPrimitives.Add(x, delta, sumRef);
        RmsNormLayer.Forward<float>(yRef, rstdRef, sumRef, gain, rows, 1e-5f);
        var sum = new float[rows * n];
        var y = new float[rows * n];
        var rstd = new float[rows];
        ResidualRmsNormLayer.Forward<float>(sum, y, rstd, x, delta, gain, rows, 1e-5f);
        Assert.Equal(sumRef, sum);
        Assert.Equal(yRef, y);
        Assert.Equal(rstdRef, rstd);

        // Double (the finite-difference precision) too.
        var xd = GradCheck.Random(rng, rows * n, 2);
        var dd = GradCheck.Random(rng, rows * n);
        var gd = GradCheck.Random(rng, n);
        var sd = new double[rows * n];
        var yd = new double[rows * n];
        var rd = new double[rows];
        var sdRef = new double[rows * n];
        var ydRef = new double[rows * n];
        var rdRef = new double[rows];
        for (int i = 0; i < sdRef.Length; i++) sdRef[i] = xd[i] + dd[i];
        RmsNormLayer.Forward<double>(ydRef, rdRef, sdRef, gd, rows, 1e-6);
        ResidualRmsNormLayer.Forward<double>(sd, yd, rd, xd, dd, gd, rows, 1e-6);
        Assert.Equal(sdRef, sd);
        Assert.Equal(ydRef, yd);
        Assert.Equal(rdRef, rd);
    }

    [Theory]
    [MemberData(nameof(NormShapes))]
    public void Residual_rmsnorm_backward_equals_the_serial_rmsnorm_backward(int rows, int n)
    {
        var rng = new Random(rows * 17 + n);
        var s = GradCheck.RandomFloat(rng, rows * n, 2);
        var gain = GradCheck.RandomFloat(rng, n);
        var dy = GradCheck.RandomFloat(rng, rows * n);
        var y = new float[rows * n];
        var rstd = new float[rows];
        RmsNormLayer.Forward<float>(y, rstd, s, gain, rows, 1e-5f);
        // Both accumulate: start from a residual gradient and an earlier micro-batch's gain gradient.
        var dSum0 = GradCheck.RandomFloat(rng, rows * n);
        var dGain0 = GradCheck.RandomFloat(rng, n);
        var dSumRef = (float[])dSum0.Clone();
        var dGainRef = (float[])dGain0.Clone();
        RmsNormLayer.Backward<float>(dSumRef, dGainRef, dy, s, gain, rstd, rows);
        var dSum = (float[])dSum0.Clone();
        var dGain = (float[])dGain0.Clone();
        ResidualRmsNormLayer.Backward<float>(dSum, dGain, dy, s, gain, rstd, rows);
        Assert.Equal(dSumRef, dSum);
        // dGain sums its rows in 32-row partials (a fixed order, but not the serial running sum): both orders are
        // within (rows + 1)·u·Σ|terms| of the exact sum, so they differ by at most twice that.
        for (int i = 0; i < n; i++)
        {
            double abs = Math.Abs(dGain0[i]);
            for (int t = 0; t < rows; t++) abs += Math.Abs((double)dy[t * n + i] * s[t * n + i] * rstd[t]);
            double bound = 2 * (rows + 2) * Math.Pow(2, -24) * abs;
            Assert.True(Math.Abs(dGain[i] - dGainRef[i]) <= bound, $"dGain[{i}] = {dGain[i]}, serial {dGainRef[i]}, bound {bound}");
        }
        // And the same bits on a second call (the partials' order does not depend on scheduling).
        var dSum2 = (float[])dSum0.Clone();
        var dGain2 = (float[])dGain0.Clone();
        ResidualRmsNormLayer.Backward<float>(dSum2, dGain2, dy, s, gain, rstd, rows);
        Assert.Equal(dGain, dGain2);
    }

    [Fact]
    public void Residual_rmsnorm_backward_matches_finite_differences_for_both_addends()
    {
        var rng = new Random(12);
        int rows = 3, n = 7;
        var x = GradCheck.Random(rng, rows * n, 2);
        var delta = GradCheck.Random(rng, rows * n);
        var gain = GradCheck.Random(rng, n);
        var wy = GradCheck.Random(rng, rows * n);
        var ws = GradCheck.Random(rng, rows * n);
        var s = new double[rows * n];
        var y = new double[rows * n];
        var rstd = new double[rows];
        // L = Σ wy ⊙ y + Σ ws ⊙ s: the sum also flows on as the residual stream.
        double Loss() { ResidualRmsNormLayer.Forward<double>(s, y, rstd, x, delta, gain, rows, 1e-5); return GradCheck.Dot(y, wy) + GradCheck.Dot(s, ws); }
        Loss();
        var dSum = (double[])ws.Clone();
        var dGain = new double[n];
        ResidualRmsNormLayer.Backward<double>(dSum, dGain, wy, s, gain, rstd, rows);
        GradCheck.Check("residual rmsnorm dX", x, dSum, Loss);
        GradCheck.Check("residual rmsnorm dDelta", delta, dSum, Loss);
        GradCheck.Check("residual rmsnorm dGain", gain, dGain, Loss);
    }

    [Theory]
    [InlineData(37)]
    [InlineData(4096)]
    [InlineData(96 * 1408 + 5)]
    public void SwiGlu_one_pass_backward_equals_clear_and_accumulate_and_the_formula(int n)
    {
        var rng = new Random(n);
        var gate = GradCheck.RandomFloat(rng, n, 8);
        var up = GradCheck.RandomFloat(rng, n, 2);
        var dh = GradCheck.RandomFloat(rng, n);
        var dGate = GradCheck.RandomFloat(rng, n); // stale contents: must be overwritten
        var dUp = GradCheck.RandomFloat(rng, n);
        SwiGluLayer.BackwardOverwrite<float>(dGate, dUp, dh, gate, up);
        var dGateRef = new float[n];
        var dUpRef = new float[n];
        SwiGluLayer.Backward<float>(dGateRef, dUpRef, dh, gate, up);
        Assert.Equal(dGateRef, dGate);
        Assert.Equal(dUpRef, dUp);
        for (int i = 0; i < n; i++)
        {
            // Double evaluation of the definitions. Float: exp within a few ulp, then ≤ 7 roundings, each relative to
            // the magnitude of the factors (1 + g·(1 − σ) can cancel, so the bound uses |1| + |g·(1 − σ)|).
            double g = gate[i], sig = 1 / (1 + Math.Exp(-g));
            double upRef = dh[i] * g * sig;
            double gateRef = dh[i] * up[i] * sig * (1 + g * (1 - sig));
            double bound = 2e-6;
            Assert.True(Math.Abs(dUp[i] - upRef) <= bound * Math.Abs(upRef) + 1e-30, $"dUp[{i}] = {dUp[i]}, expected {upRef}");
            double scale = Math.Abs(dh[i] * up[i] * sig) * (1 + Math.Abs(g * (1 - sig)));
            Assert.True(Math.Abs(dGate[i] - gateRef) <= bound * scale + 1e-30, $"dGate[{i}] = {dGate[i]}, expected {gateRef}");
        }
    }

    [Theory]
    [InlineData(1408)]
    [InlineData(64 * 1408)]
    public void Float_swiglu_forward_equals_the_inference_kernel_bit_for_bit(int n)
    {
        // Lengths whose 256-element chunks start at the same offsets in both kernels (the inference kernel chunks from
        // the start of its span, the training one from multiples of 256), so both see the same exp inputs per vector.
        var rng = new Random(n);
        var gate = GradCheck.RandomFloat(rng, n, 6);
        var up = GradCheck.RandomFloat(rng, n, 2);
        var h = new float[n];
        SwiGluLayer.Forward<float>(h, gate, up);
        var g = (float[])gate.Clone();
        Elongate.Kernels.SwiGlu.Forward(g, up);
        Assert.Equal(g, h);
    }
}
