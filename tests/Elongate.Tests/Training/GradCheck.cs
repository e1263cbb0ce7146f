namespace Elongate.Tests.Training;

/// <summary>
/// Central-difference gradient checks in double precision. The kernels are generic, so the double instantiation
/// is the very code that trains in float. With h = 1e-5 the truncation error is h²·f'''/6 ≈ 1e-10·f''' and the
/// rounding error ≈ ε·|L|/h ≈ 1e-16·|L|/1e-5 ≈ 1e-11·|L|, both far below the tolerance |analytic − numeric| ≤
/// 1e-6·max(1, |numeric|); a wrong formula (a missing term, a sign, a transposed index) shows up as an O(1) error.
/// </summary>
internal static class GradCheck
{
    public const double Step = 1e-5;
    public const double Tolerance = 1e-6;

    /// <summary>Compares analytic[j] with dL/dx[j] by central differences for every j (x is perturbed and restored).</summary>
    public static void Check(string name, double[] x, ReadOnlySpan<double> analytic, Func<double> loss)
    {
        Assert.Equal(x.Length, analytic.Length);
        double worst = 0, maxGrad = 0;
        int worstAt = -1;
        for (int j = 0; j < x.Length; j++)
        {
            double saved = x[j];
            x[j] = saved + Step;
            double plus = loss();
            x[j] = saved - Step;
            double minus = loss();
            x[j] = saved;
            double numeric = (plus - minus) / (2 * Step);
            double err = Math.Abs(numeric - analytic[j]) / Math.Max(1, Math.Abs(numeric));
            if (err > worst) { worst = err; worstAt = j; }
            maxGrad = Math.Max(maxGrad, Math.Abs(numeric));
        }
        Assert.True(worst <= Tolerance, $"{name}: gradient mismatch {worst:E2} at element {worstAt} (analytic {analytic[Math.Max(0, worstAt)]:R})");
        // A check over an input the loss does not depend on would pass vacuously.
        Assert.True(maxGrad > 1e-4, $"{name}: the loss barely depends on this input (max |grad| {maxGrad:E2})");
    }

    /// <summary>
    /// Whole-model check: backpropagates <paramref name="loss"/> once, then compares every parameter tensor's gradient
    /// with central differences of the same loss.
    /// </summary>
    public static void CheckModel(Elongate.Training.LlamaTrainingModel<double> model, Func<double> loss, string label)
    {
        loss();
        model.ZeroGrad();
        model.Backward();
        var analytic = (double[])model.Gradients.Clone();
        foreach (var t in model.Tensors)
        {
            var values = model.Parameters.AsSpan(t.Offset, t.Length).ToArray();
            double TensorLoss() { values.CopyTo(model.Parameters, t.Offset); return loss(); }
            Check($"{label} {t.Name}", values, analytic.AsSpan(t.Offset, t.Length), TensorLoss);
            values.CopyTo(model.Parameters, t.Offset);
        }
    }

    public static double[] Random(Random rng, int n, double scale = 1)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static float[] RandomFloat(Random rng, int n, double scale = 1)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>
    /// ‖a − b‖₂ / ‖b‖₂ in double: the relative error of a whole tensor, robust to entries near zero. A reference
    /// that is exactly zero (dQ with a single key, whose softmax is constant) is compared absolutely, against 1e-6.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { double d = (double)a[i] - b[i]; num += d * d; den += (double)b[i] * b[i]; }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-6);
    }
}
