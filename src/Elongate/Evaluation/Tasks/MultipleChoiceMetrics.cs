using System.Globalization;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The per-item arithmetic of log-likelihood multiple choice, following lm-evaluation-harness
/// (<c>ConfigurableTask.process_results</c> for <c>output_type: multiple_choice</c>, and truthfulqa's
/// <c>process_results_mc2</c>).
/// </summary>
public static class MultipleChoiceMetrics
{
    /// <summary>
    /// Index of the largest value, the first on ties (numpy's <c>argmax</c>, which lm-evaluation-harness uses). NaN
    /// never wins, unlike numpy, where a NaN would: a NaN log-likelihood is a model fault, not a preference.
    /// </summary>
    public static int Argmax(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        int best = -1;
        for (int i = 0; i < values.Count; i++)
        {
            if (double.IsNaN(values[i])) continue;
            if (best < 0 || values[i] > values[best]) best = i;
        }
        return best < 0 ? 0 : best;
    }

    /// <summary>
    /// The length <c>acc_norm</c> divides by: the choice's length in characters as Python's <c>len(str)</c> counts them
    /// (Unicode code points, so "é" or an emoji is 1), without the delimiter. lm-evaluation-harness computes
    /// <c>completion_len = [float(len(i)) for i in choices]</c> on the choice strings, so "byte-length normalised", as
    /// it is sometimes called, is a character count in the code; versions that also report UTF-8 bytes call that
    /// <c>acc_bytes</c>.
    /// </summary>
    public static int CharacterLength(string choice)
    {
        int n = 0;
        foreach (var _ in choice.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>
    /// <c>argmax(loglikelihood / length)</c> over the choices (lm-evaluation-harness's <c>pred_norm</c>). A zero length
    /// divides as numpy does (a negative log-likelihood over 0 is −∞, never chosen).
    /// </summary>
    public static int ArgmaxNormalized(IReadOnlyList<double> logLikelihoods, IReadOnlyList<int> lengths)
    {
        if (logLikelihoods.Count != lengths.Count) throw new ArgumentException("one length per log-likelihood", nameof(lengths));
        var normalized = new double[logLikelihoods.Count];
        for (int i = 0; i < normalized.Length; i++) normalized[i] = logLikelihoods[i] / lengths[i];
        return Argmax(normalized);
    }

    /// <summary>log Σ exp(xᵢ) over <paramref name="indices"/> of <paramref name="values"/>, shifted by the maximum so no term overflows or underflows to 0 together.</summary>
    public static double LogSumExp(IReadOnlyList<double> values, IEnumerable<int> indices)
    {
        var idx = indices as IReadOnlyCollection<int> ?? indices.ToArray();
        double max = double.NegativeInfinity;
        foreach (var i in idx) max = Math.Max(max, values[i]);
        if (double.IsNegativeInfinity(max)) return double.NegativeInfinity;
        double sum = 0;
        foreach (var i in idx) sum += Math.Exp(values[i] - max);
        return max + Math.Log(sum);
    }

    /// <summary>
    /// TruthfulQA MC2's score of one question: Σ p(true) / Σ p(all) with p = exp(log-likelihood)
    /// (lm-evaluation-harness truthfulqa <c>process_results_mc2</c>). Computed as exp(LSE(true) − LSE(all)): the
    /// plain sum of exp(−300)-sized probabilities underflows to 0/0, the shifted one does not. lm-evaluation-harness
    /// takes the answers before the first 0 label as the true ones (the dataset lists them first); this takes the gold
    /// indices wherever they are, which is the same for the dataset's order.
    /// </summary>
    public static double TrueProbabilityMass(IReadOnlyList<double> logLikelihoods, IReadOnlyList<int> gold)
    {
        var all = LogSumExp(logLikelihoods, Enumerable.Range(0, logLikelihoods.Count));
        if (double.IsNegativeInfinity(all)) return double.NaN;   // every choice impossible: no mass to share
        return Math.Exp(LogSumExp(logLikelihoods, gold) - all);
    }

    /// <summary>
    /// The standard error of a mean as lm-evaluation-harness reports it (<c>mean_stderr</c>): the sample standard
    /// deviation (n − 1) over √n. NaN for fewer than two values, where it is undefined.
    /// </summary>
    public static double MeanStandardError(IReadOnlyList<double> values)
    {
        int n = values.Count;
        if (n < 2) return double.NaN;
        double mean = values.Average();
        double ss = 0;
        foreach (var v in values) ss += (v - mean) * (v - mean);
        return Math.Sqrt(ss / (n - 1)) / Math.Sqrt(n);
    }

    /// <summary>Option letter of index <paramref name="i"/>: 0 → "A".</summary>
    public static string Letter(int i) => ((char)('A' + i)).ToString(CultureInfo.InvariantCulture);
}
