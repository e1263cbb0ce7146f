using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>AdamW and the cosine schedule against their formulas computed by hand in double.</summary>
public class OptimizerTests
{
    private static readonly ParameterTensor[] Tensors =
    [
        new("w.weight", 0, [2, 2]),     // a matrix: decayed
        new("norm.weight", 4, [2]),     // a gain: not decayed
    ];

    [Fact]
    public void AdamW_first_steps_follow_the_formula_with_decay_only_on_matrices()
    {
        float[] p0 = [0.5f, -1f, 2f, 0.25f, 1f, 1.5f];
        var p = (float[])p0.Clone();
        var opt = new AdamW(Tensors, p.Length);
        Assert.Equal((0.9f, 0.95f, 1e-5f, 0.1f, 1f), (opt.Beta1, opt.Beta2, opt.Epsilon, opt.WeightDecay, opt.MaxGradNorm));
        double[] m = new double[6], v = new double[6], expected = p0.Select(x => (double)x).ToArray();
        float lr = 0.05f;
        for (int step = 1; step <= 3; step++)
        {
            // Norm of these gradients is < 1, so no clipping.
            float[] g = [0.1f * step, -0.2f, 0.05f, 0f, 0.3f, -0.1f * step];
            double[] gd = g.Select(x => (double)x).ToArray();
            float norm = opt.Step(p, g, lr);
            Assert.Equal(Math.Sqrt(gd.Sum(x => x * x)), norm, 5);
            for (int i = 0; i < 6; i++)
            {
                m[i] = 0.9 * m[i] + 0.1 * gd[i];
                v[i] = 0.95 * v[i] + 0.05 * gd[i] * gd[i];
                double mHat = m[i] / (1 - Math.Pow(0.9, step)), vHat = v[i] / (1 - Math.Pow(0.95, step));
                double decay = i < 4 ? 1 - lr * 0.1 : 1;
                expected[i] = expected[i] * decay - lr * mHat / (Math.Sqrt(vHat) + 1e-5);
            }
            // fp32 arithmetic on values ≈ 1: a few ulps (1.2e-7 each) of rounding.
            for (int i = 0; i < 6; i++) Assert.Equal(expected[i], p[i], 2e-6);
        }
        Assert.Equal(3, opt.StepCount);
    }

    [Fact]
    public void AdamW_clips_gradients_to_global_norm_one()
    {
        var p = new float[6];
        float[] g = [3f, 0f, 0f, 4f, 0f, 0f]; // norm 5
        var opt = new AdamW(Tensors, 6);
        Assert.Equal(5f, opt.Step(p, g, 0.01f), 5);
        Assert.Equal(0.6f, g[0], 6);
        Assert.Equal(0.8f, g[3], 6);
        // With clipping off the gradients are left as they were.
        float[] g2 = [3f, 0f, 0f, 4f, 0f, 0f];
        new AdamW(Tensors, 6) { MaxGradNorm = 0 }.Step(new float[6], g2, 0.01f);
        Assert.Equal(3f, g2[0]);
    }

    [Fact]
    public void Cosine_schedule_warms_up_linearly_then_decays_to_the_floor()
    {
        var s = new CosineSchedule(1e-3f, 1e-4f, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(1e-4f, s.At(0), 7);
        Assert.Equal(5e-4f, s.At(4), 7);
        Assert.Equal(1e-3f, s.At(9), 7);
        Assert.Equal(1e-3f, s.At(10), 7);
        Assert.Equal(5.5e-4f, s.At(60), 7);                                      // halfway: mean of peak and floor
        Assert.Equal(1e-4f + 0.5 * (1 + Math.Cos(Math.PI * 0.25)) * 9e-4, s.At(35), 7);
        Assert.Equal(1e-4f, s.At(110), 7);
        Assert.Equal(1e-4f, s.At(10_000), 7);
    }
}
