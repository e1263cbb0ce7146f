namespace Elongate.Evaluation.Tasks;

/// <summary>ROUGE-1, ROUGE-2 and ROUGE-L of one prediction (rouge-score's rouge1, rouge2, rougeL).</summary>
/// <param name="Rouge1">Unigram overlap.</param>
/// <param name="Rouge2">Bigram overlap.</param>
/// <param name="RougeL">Longest common subsequence.</param>
public readonly record struct RougeScores(RougeScore Rouge1, RougeScore Rouge2, RougeScore RougeL)
{
    /// <summary>
    /// ZeroSCROLLS' summarisation score, also L-Eval's "LEval_score" for its rouge tasks: the geometric mean
    /// (R1·R2·RL)^(1/3) of the three F-measures. Both benchmarks take it over the task's mean F-measures, not per
    /// example: average with <see cref="Mean"/> first, then read this property.
    /// </summary>
    public double GeometricMean => Math.Pow(Rouge1.FMeasure * Rouge2.FMeasure * RougeL.FMeasure, 1.0 / 3.0);

    /// <summary>The arithmetic mean of each of the nine numbers over <paramref name="scores"/> (rouge-score's and the benchmarks' aggregate); all zero when empty.</summary>
    public static RougeScores Mean(IEnumerable<RougeScores> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var sum = new double[9];
        int n = 0;
        foreach (var s in scores)
        {
            int k = 0;
            foreach (var r in (ReadOnlySpan<RougeScore>)[s.Rouge1, s.Rouge2, s.RougeL])
            {
                sum[k++] += r.Precision;
                sum[k++] += r.Recall;
                sum[k++] += r.FMeasure;
            }
            n++;
        }
        if (n == 0) return default;
        RougeScore At(int k) => new(sum[k] / n, sum[k + 1] / n, sum[k + 2] / n);
        return new RougeScores(At(0), At(3), At(6));
    }
}
