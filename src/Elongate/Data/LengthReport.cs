namespace Elongate.Data;

/// <summary>Distribution of document lengths in tokens: the summary `data prepare` prints and saves.</summary>
public sealed record LengthReport(long Documents, long Tokens, int Min, int Median, int P90, int P99, int Max, IReadOnlyList<LengthBucket> Histogram)
{
    /// <summary>Summarizes <paramref name="lengths"/>; buckets are powers of two (≤ 2^k tokens).</summary>
    public static LengthReport From(IReadOnlyList<int> lengths)
    {
        if (lengths.Count == 0) return new LengthReport(0, 0, 0, 0, 0, 0, 0, []);
        var sorted = lengths.OrderBy(x => x).ToArray();
        int Q(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(q * (sorted.Length - 1) + 0.5))];
        var buckets = new SortedDictionary<long, long>();
        foreach (var l in sorted)
        {
            long edge = 1;
            while (edge < l) edge <<= 1;
            buckets[edge] = buckets.GetValueOrDefault(edge) + 1;
        }
        return new LengthReport(sorted.Length, sorted.Sum(x => (long)x), sorted[0], Q(0.5), Q(0.9), Q(0.99), sorted[^1],
            buckets.Select(b => new LengthBucket(b.Key, b.Value)).ToArray());
    }
}

/// <summary>Documents whose length is at most <see cref="UpTo"/> tokens (and above the previous bucket).</summary>
public sealed record LengthBucket(long UpTo, long Count);
