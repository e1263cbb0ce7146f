namespace Elongate.Kernels;

/// <summary>
/// Log-probabilities from logits, in double with the maximum subtracted: float exponentials of a 32,000-entry row
/// lose the small probabilities a log-likelihood sums, and without the shift large logits overflow. The scorer of the
/// task harness and the server's <c>logprobs</c> both use this, so a score computed locally and one read from the
/// server are the same number.
/// </summary>
public static class LogSoftmax
{
    /// <summary>log Σ exp(logits), computed as max + log Σ exp(logit − max).</summary>
    /// <exception cref="ArgumentException">The row is empty.</exception>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("no logits", nameof(logits));
        double max = double.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum);
    }

    /// <summary>log softmax(logits)[token].</summary>
    public static double LogProb(ReadOnlySpan<float> logits, int token) => logits[token] - LogSumExp(logits);

    /// <summary>
    /// The ids of the <paramref name="count"/> largest logits, largest first (lower id first on ties, as
    /// <c>Sampler.ArgMax</c> picks), written to <paramref name="ids"/>; returns how many were written.
    /// </summary>
    public static int Top(ReadOnlySpan<float> logits, int count, Span<int> ids)
    {
        count = Math.Min(Math.Min(count, logits.Length), ids.Length);
        if (count <= 0) return 0;
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            // Insertion into a sorted list of at most `count` ids: count is small (≤ 5 for OpenAI's logprobs).
            if (n == count && !(logits[i] > logits[ids[n - 1]])) continue;
            int at = n < count ? n++ : n - 1;
            while (at > 0 && logits[i] > logits[ids[at - 1]]) { ids[at] = ids[at - 1]; at--; }
            ids[at] = i;
        }
        return n;
    }
}
