using System.Diagnostics;
using System.Globalization;
using Elongate.Model;

namespace Elongate.Evaluation;

/// <summary>A point of a loss-against-context curve.</summary>
public sealed record LossCurvePoint(double Context, double Loss);

/// <summary>A power-law fit of one curve, or why there is none.</summary>
/// <param name="Basis">Which points were fitted (see <see cref="LossCurveReport"/>).</param>
/// <param name="Fit">α, β, γ, R² and RMSE; null when the fit could not be made.</param>
/// <param name="WhyNot">The reason there is no fit, else null.</param>
/// <param name="Points">The fitted points.</param>
public sealed record LossFit(string Basis, PowerLawFitResult? Fit, string? WhyNot, IReadOnlyList<LossCurvePoint> Points);

/// <summary>
/// Loss against context over several lengths, with the paper's fit L(c) = (α/c)^β + γ (<see cref="PowerLawFit"/>)
/// made on two curves:
/// <list type="bullet">
/// <item><see cref="ByPosition"/> (the primary one): the longest length's loss by position bucket, each bucket at
/// c = the mean of the positions it holds ((From + 1 + To) / 2) — the loss of a token as a function of how many
/// tokens precede it in the window, which is what "loss against context" measures within one model and one length
/// (the bucket means are only that under non-overlapping windows; with a stride most scored tokens sit at the end
/// of the window). Needs at least three buckets.</item>
/// <item><see cref="ByLength"/>: the mean loss of each length at c = L. This mixes every position below L, so it
/// flattens faster than the per-position curve; it is what "evaluate at context L" means when one number per
/// length is wanted. Needs at least three lengths.</item>
/// </list>
/// </summary>
/// <param name="Lengths">One <see cref="ContextLossResult"/> per length, ascending.</param>
/// <param name="Stride">Sliding stride used (0 = non-overlapping windows).</param>
/// <param name="MaxWindows">Window cap per length (0 = all).</param>
/// <param name="ByPosition">Fit on the longest length's position buckets.</param>
/// <param name="ByLength">Fit on mean loss per length.</param>
/// <param name="Seconds">Wall time.</param>
public sealed record LossCurveReport(IReadOnlyList<ContextLossResult> Lengths, int Stride, int MaxWindows, LossFit ByPosition, LossFit ByLength, double Seconds)
{
    /// <summary>
    /// Evaluates every length with <see cref="ContextLoss"/> on one session sized for the longest. A stride at or
    /// above a length means non-overlapping windows at that length.
    /// </summary>
    public static LossCurveReport Run(LlamaModel model, IReadOnlyList<int[]> documents, IReadOnlyList<int> lengths, int stride = 0, int maxWindows = 0,
        int bucketCount = 8, Action<string>? progress = null)
    {
        if (lengths.Count == 0) throw new ArgumentException("loss: give at least one length");
        if (lengths.Any(l => l < 2)) throw new ArgumentException("loss: every length must be ≥ 2");
        if (stride < 0) throw new ArgumentException("loss: stride must be ≥ 0");
        if (maxWindows < 0) throw new ArgumentException("loss: max windows must be ≥ 0");
        if (bucketCount < 1) throw new ArgumentException("loss: buckets must be ≥ 1");
        if (documents.All(d => d.Length < 2)) throw new ArgumentException("loss: no document has two or more tokens");
        var sw = Stopwatch.StartNew();
        var sorted = lengths.Distinct().Order().ToList();
        var session = new InferenceSession(model, sorted[^1]);
        var results = new List<ContextLossResult>();
        foreach (int l in sorted)
        {
            var r = ContextLoss.Evaluate(session, documents, l, stride >= l ? 0 : stride, maxWindows, bucketCount);
            results.Add(r);
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"[{results.Count}/{sorted.Count}] loss length {l}: {r.MeanLoss:F4} nats (ppl {r.Perplexity:F2}) over {r.ScoredTokens} tokens, {r.Windows} windows"));
        }
        var longest = results[^1];
        var posPoints = longest.Buckets.Select(b => new LossCurvePoint((b.From + 1 + b.To) / 2.0, b.MeanLoss)).ToList();
        var lenPoints = results.Where(r => r.ScoredTokens > 0).Select(r => new LossCurvePoint(r.Length, r.MeanLoss)).ToList();
        var byPosition = FitOrExplain($"position buckets of length {longest.Length}", posPoints, "position buckets");
        var byLength = FitOrExplain("mean loss per length", lenPoints, "lengths");
        return new LossCurveReport(results, stride, maxWindows, byPosition, byLength, sw.Elapsed.TotalSeconds);
    }

    private static LossFit FitOrExplain(string basis, List<LossCurvePoint> points, string what)
    {
        if (points.Select(p => p.Context).Distinct().Count() < 3)
            return new LossFit(basis, null, $"the fit has three parameters and needs at least three {what}; there are {points.Count}", points);
        try
        {
            var fit = PowerLawFit.Fit(points.Select(p => p.Context).ToList(), points.Select(p => p.Loss).ToList());
            if (!double.IsFinite(fit.Alpha) || !double.IsFinite(fit.Beta) || !double.IsFinite(fit.Gamma))
                return new LossFit(basis, null, "the least-squares fit diverged (non-finite parameters)", points);
            return new LossFit(basis, fit, null, points);
        }
        catch (ArgumentException e)
        {
            return new LossFit(basis, null, e.Message, points);
        }
    }
}
