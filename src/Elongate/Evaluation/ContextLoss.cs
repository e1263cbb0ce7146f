using Elongate.Model;

namespace Elongate.Evaluation;

/// <summary>Loss of a model at one context length, overall and by position within the window.</summary>
/// <param name="Length">Context length L (tokens the model sees per window).</param>
/// <param name="MeanLoss">Mean next-token cross-entropy in nats over all scored tokens.</param>
/// <param name="ScoredTokens">Tokens that contributed.</param>
/// <param name="Windows">Windows evaluated.</param>
/// <param name="Buckets">Loss by position: bucket b holds positions (Edges[b−1], Edges[b]] (1-based, position of the predicted token).</param>
public sealed record ContextLossResult(int Length, double MeanLoss, long ScoredTokens, int Windows, IReadOnlyList<PositionBucket> Buckets)
{
    public double Perplexity => Math.Exp(MeanLoss);
}

/// <summary>Mean loss of the tokens whose position in the window lies in (From, To].</summary>
public sealed record PositionBucket(int From, int To, double MeanLoss, long Tokens);

/// <summary>
/// Language-modelling loss against context length, the paper's main long-context measure. Documents are token
/// streams as training sees them (BOS only at each document's start). Two modes:
/// <list type="bullet">
/// <item>non-overlapping (stride = 0): each document is cut into windows of L + 1 tokens that share one token
/// (the last target of one window is the first input of the next) and every target in a window is scored, so
/// the loss at position p is the loss with p tokens of context;</item>
/// <item>strided sliding window (0 &lt; stride &lt; L): the window advances by the stride and only its last
/// stride targets are scored (all targets in a document's first window), so each scored token has at least
/// L − stride tokens of context — the transformers perplexity recipe. A window that starts mid-document has no
/// BOS, as in packed training.</item>
/// </list>
/// </summary>
public static class ContextLoss
{
    /// <summary>Evaluates one context length over the documents.</summary>
    /// <param name="session">A session whose context holds at least L positions; it is reset per window.</param>
    /// <param name="documents">Token ids per document.</param>
    /// <param name="length">L.</param>
    /// <param name="stride">0 for non-overlapping windows, else the sliding stride (≤ L).</param>
    /// <param name="maxWindows">Stop after this many windows (0 = all).</param>
    /// <param name="bucketCount">Number of position buckets (logarithmic edges from 1 to L).</param>
    public static ContextLossResult Evaluate(InferenceSession session, IReadOnlyList<int[]> documents, int length, int stride = 0, int maxWindows = 0, int bucketCount = 8)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), "context length must be ≥ 1");
        if (stride < 0 || stride > length) throw new ArgumentOutOfRangeException(nameof(stride), $"stride must be in [0, {length}]");
        if (session.ContextLength < length) throw new ArgumentException($"the session holds {session.ContextLength} positions, fewer than L = {length}");
        var edges = BucketEdges(length, bucketCount);
        var sums = new double[edges.Length];
        var counts = new long[edges.Length];
        double total = 0;
        long scored = 0;
        int windows = 0;
        foreach (var doc in documents)
        {
            if (doc.Length < 2) continue;
            int step = stride == 0 ? length : stride;
            int scoredUpTo = 0; // document index of the last target already scored
            for (int start = 0; start + 1 < doc.Length; start += step)
            {
                if (maxWindows > 0 && windows >= maxWindows) goto done;
                int end = Math.Min(start + length + 1, doc.Length); // window tokens [start, end)
                // Score only targets no earlier window scored: with a stride these are the window's last ones.
                int firstScored = Math.Max(1, scoredUpTo - start + 1);
                session.Reset();
                var logits = session.ForwardAll(doc.AsSpan(start, end - start - 1));
                for (int p = firstScored; p < end - start; p++)
                {
                    double loss = CrossEntropy(logits[p - 1], doc[start + p]);
                    total += loss;
                    scored++;
                    int b = Array.FindIndex(edges, e => p <= e);
                    sums[b] += loss;
                    counts[b]++;
                }
                scoredUpTo = end - 1;
                windows++;
                if (end == doc.Length) break;
            }
        }
    done:
        var buckets = new List<PositionBucket>();
        for (int b = 0; b < edges.Length; b++)
            if (counts[b] > 0) buckets.Add(new PositionBucket(b == 0 ? 0 : edges[b - 1], edges[b], sums[b] / counts[b], counts[b]));
        return new ContextLossResult(length, scored > 0 ? total / scored : double.NaN, scored, windows, buckets);
    }

    /// <summary>−log softmax(logits)[target], computed in double with the maximum subtracted.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return Math.Log(sum) + max - logits[target];
    }

    /// <summary>Roughly logarithmic, strictly increasing bucket upper edges ending at L.</summary>
    internal static int[] BucketEdges(int length, int count)
    {
        count = Math.Clamp(count, 1, length);
        var edges = new SortedSet<int>();
        for (int b = 1; b <= count; b++) edges.Add((int)Math.Round(Math.Pow(length, (double)b / count)));
        edges.Add(length);
        return edges.Where(e => e >= 1).ToArray();
    }
}
