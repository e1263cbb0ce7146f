namespace Elongate.Evaluation;

/// <summary>
/// Sizes a prompt to a target length in tokens. Text evaluations grow a prompt by a count n (filler repeats,
/// haystack tokens kept) and must measure it with the tokenizer, because the prompt's token count is not the sum
/// of its parts' counts (merges across joins, the dummy-prefix space). The count is assumed non-decreasing in n,
/// which holds for appending text; the search returns the largest n whose prompt fits.
/// </summary>
public static class PromptFitting
{
    /// <summary>
    /// The largest n in [<paramref name="lo"/>, <paramref name="hi"/>] with tokenCount(n) ≤ <paramref name="target"/>
    /// by binary search, with its count; null when even tokenCount(lo) exceeds the target.
    /// </summary>
    public static (int N, int Tokens)? Largest(Func<int, int> tokenCount, int target, int lo, int hi)
    {
        if (hi < lo) throw new ArgumentException($"empty range [{lo}, {hi}]");
        int loTokens = tokenCount(lo);
        if (loTokens > target) return null;
        int best = lo, bestTokens = loTokens;
        int a = lo + 1, b = hi;
        while (a <= b)
        {
            int mid = a + (b - a) / 2;
            int t = tokenCount(mid);
            if (t <= target) { best = mid; bestTokens = t; a = mid + 1; }
            else b = mid - 1;
        }
        return (best, bestTokens);
    }

    /// <summary>
    /// As <see cref="Largest"/> for n ≥ 0 without an upper bound: doubles n until the prompt overflows (each step
    /// must add at least one token, so n never passes the target), then bisects.
    /// </summary>
    public static (int N, int Tokens)? LargestUnbounded(Func<int, int> tokenCount, int target)
    {
        int zero = tokenCount(0);
        if (zero > target) return null;
        int hi = 1;
        while (hi <= target && tokenCount(hi) <= target) hi *= 2;
        return Largest(tokenCount, target, hi / 2, Math.Min(hi, target));
    }
}
