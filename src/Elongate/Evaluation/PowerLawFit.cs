using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace Elongate.Evaluation;

/// <summary>Result of fitting L(c) = (α/c)^β + γ, with the goodness of fit.</summary>
public sealed record PowerLawFitResult(double Alpha, double Beta, double Gamma, double RSquared, double Rmse)
{
    /// <summary>The fitted loss at context length <paramref name="c"/>.</summary>
    public double Evaluate(double c) => Math.Pow(Alpha / c, Beta) + Gamma;
}

/// <summary>
/// The paper's model of validation loss against context length (Xiong et al. 2023, eq. 1): L(c) = (α/c)^β + γ,
/// fitted by Levenberg–Marquardt (MathNet.Numerics) with α, β &gt; 0, started from a log-linear fit.
/// </summary>
public static class PowerLawFit
{
    /// <summary>Fits the curve to (context length, loss) points; needs at least three distinct lengths.</summary>
    public static PowerLawFitResult Fit(IReadOnlyList<double> contexts, IReadOnlyList<double> losses)
    {
        if (contexts.Count != losses.Count) throw new ArgumentException("contexts and losses differ in length");
        if (contexts.Distinct().Count() < 3) throw new ArgumentException("the fit has three parameters and needs at least three distinct context lengths");
        if (contexts.Any(c => !(c > 0)) || losses.Any(l => !double.IsFinite(l))) throw new ArgumentException("context lengths must be positive and losses finite");

        var x = Vector<double>.Build.DenseOfEnumerable(contexts);
        var y = Vector<double>.Build.DenseOfEnumerable(losses);

        // Start: γ a little below the smallest loss, then log(L − γ) = β·log α − β·log c is a line in log c.
        double gamma0 = losses.Min() - 0.05 * (losses.Max() - losses.Min() + 1e-3);
        var lx = contexts.Select(c => Math.Log(c)).ToArray();
        var ly = losses.Select(l => Math.Log(Math.Max(l - gamma0, 1e-9))).ToArray();
        var (intercept, slope) = MathNet.Numerics.Fit.Line(lx, ly);
        double beta0 = Math.Clamp(-slope, 1e-3, 10);
        double alpha0 = Math.Exp(intercept / beta0);

        // Unconstrained parameters (ln α, ln β, γ) keep α and β positive without box bounds.
        Vector<double> Model(Vector<double> p, Vector<double> c) => c.Map(ci => Math.Pow(Math.Exp(p[0]) / ci, Math.Exp(p[1])) + p[2]);
        Matrix<double> Jacobian(Vector<double> p, Vector<double> c)
        {
            var j = Matrix<double>.Build.Dense(c.Count, 3);
            double a = Math.Exp(p[0]), b = Math.Exp(p[1]);
            for (int i = 0; i < c.Count; i++)
            {
                double logR = Math.Log(a / c[i]), pw = Math.Exp(b * logR);
                j[i, 0] = pw * b;          // ∂/∂ln α of (α/c)^β
                j[i, 1] = pw * logR * b;   // ∂/∂ln β
                j[i, 2] = 1;
            }
            return j;
        }
        var objective = ObjectiveFunction.NonlinearModel(Model, Jacobian, x, y);
        var minimizer = new LevenbergMarquardtMinimizer(maximumIterations: 10_000);
        var start = Vector<double>.Build.DenseOfArray([Math.Log(alpha0), Math.Log(beta0), gamma0]);
        Vector<double> q;
        try
        {
            q = minimizer.FindMinimum(objective, start).MinimizingPoint;
        }
        catch (Exception e) when (e is ArgumentException or MathNet.Numerics.NonConvergenceException or MaximumIterationsException)
        {
            // The optimizer leaves the finite range or stalls when the points follow no decreasing power law.
            throw new ArgumentException($"no power law fits: the loss does not decrease with context ({e.Message})", e);
        }
        double[] p = [Math.Exp(q[0]), Math.Exp(q[1]), q[2]];
        // A loss that does not fall with context drives α → ∞ and β → 0 (a constant plus a flat power): there is
        // no power law to report, and saying so beats printing α = 1.8e308.
        if (!p.All(double.IsFinite) || p[0] > 1e12 || p[1] < 1e-4)
            throw new ArgumentException($"no power law fits: the loss does not decrease with context (fit went to α = {p[0]:G3}, β = {p[1]:G3})");

        double mean = losses.Average(), ssTot = 0, ssRes = 0;
        for (int i = 0; i < losses.Count; i++)
        {
            double fit = Math.Pow(p[0] / contexts[i], p[1]) + p[2];
            ssRes += (losses[i] - fit) * (losses[i] - fit);
            ssTot += (losses[i] - mean) * (losses[i] - mean);
        }
        return new PowerLawFitResult(p[0], p[1], p[2], ssTot > 0 ? 1 - ssRes / ssTot : 1, Math.Sqrt(ssRes / losses.Count));
    }
}
