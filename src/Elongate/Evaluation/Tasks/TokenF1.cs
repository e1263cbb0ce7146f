namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Token F1 as SQuAD's official evaluation script computes it (f1_score in evaluate-v1.1.py / evaluate-v2.0.py; L-Eval's
/// and ZeroSCROLLS' "f1" are the same function): both strings go through normalize_answer (<see cref="AnswerMatch.Normalize"/>:
/// lower-case, no ASCII punctuation, no a/an/the, whitespace split), the common tokens are the multiset (Counter)
/// intersection, precision = common / prediction tokens, recall = common / reference tokens, F1 = 2PR/(P+R); 0 when
/// nothing is common. Several references: the maximum (metric_max_over_ground_truths).
/// </summary>
/// <remarks>
/// When either side normalizes to no tokens, SQuAD v2.0's rule applies: 1 if both are empty, else 0. SQuAD v1.1 (and
/// L-Eval) return 0 even when both are empty; v2.0's rule is taken so that a reference compared with itself scores 1.
/// </remarks>
public static class TokenF1
{
    /// <summary>F1 in [0, 1] of <paramref name="prediction"/> against one <paramref name="reference"/>.</summary>
    public static double Score(string prediction, string reference)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(reference);
        var p = AnswerMatch.Normalize(prediction);
        var r = AnswerMatch.Normalize(reference);
        if (p.Length == 0 || r.Length == 0) return p.Length == r.Length ? 1 : 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in r) counts[t] = counts.GetValueOrDefault(t) + 1;
        int common = 0;
        foreach (var t in p)
        {
            if (counts.TryGetValue(t, out int c) && c > 0)
            {
                counts[t] = c - 1;
                common++;
            }
        }
        if (common == 0) return 0;
        double precision = (double)common / p.Length, recall = (double)common / r.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>The best F1 of <paramref name="prediction"/> over <paramref name="references"/>; 0 when there are none.</summary>
    public static double Best(string prediction, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(references);
        double best = 0;
        foreach (var r in references) best = Math.Max(best, Score(prediction, r));
        return best;
    }
}
