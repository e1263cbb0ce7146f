namespace Elongate.Evaluation.Tasks;

/// <summary>
/// ROUGE-N and ROUGE-L exactly as Google's <c>rouge-score</c> package (rouge_scorer.RougeScorer) computes them.
/// Tokens: lower-case, every run of characters other than a–z and 0–9 becomes a space, split, and with
/// <c>useStemmer</c> every token longer than three characters goes through NLTK's default Porter stemmer
/// (<see cref="PorterStemmerMode.NltkExtensions"/>, what <c>nltk.stem.porter.PorterStemmer()</c> is).
/// ROUGE-N: clipped n-gram overlap, precision = overlap / prediction n-grams, recall = overlap / reference n-grams
/// (denominators at least 1). ROUGE-L: longest common subsequence over the whole token lists, 0 when either is
/// empty. F = 2PR/(P+R), 0 when P+R = 0.
/// </summary>
/// <remarks>L-Eval scores its rouge tasks with use_stemmer=False; ROUGE-1.5.5's -m option corresponds to <c>useStemmer: true</c>.</remarks>
public static class Rouge
{
    /// <summary>rouge-score's tokens of <paramref name="text"/>.</summary>
    public static string[] Tokenize(string text, bool useStemmer = false)
    {
        var tokens = RougeL.Tokenize(text);
        if (!useStemmer) return tokens;
        for (int i = 0; i < tokens.Length; i++)
            // rouge-score stems only words of more than three characters.
            if (tokens[i].Length > 3) tokens[i] = PorterStemmer.Nltk.Stem(tokens[i]);
        return tokens;
    }

    /// <summary>ROUGE-1, ROUGE-2 and ROUGE-L of <paramref name="prediction"/> against <paramref name="reference"/> (rouge-score's score(target, prediction) argument order).</summary>
    public static RougeScores Score(string reference, string prediction, bool useStemmer = false)
    {
        var r = Tokenize(reference, useStemmer);
        var p = Tokenize(prediction, useStemmer);
        return new RougeScores(NGram(r, p, 1), NGram(r, p, 2), Lcs(r, p));
    }

    /// <summary>ROUGE-N of two token lists (rouge-score's _score_ngrams).</summary>
    public static RougeScore NGram(IReadOnlyList<string> reference, IReadOnlyList<string> prediction, int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var want = NGrams(reference, n);
        var have = NGrams(prediction, n);
        int overlap = 0;
        foreach (var (gram, count) in want)
            overlap += Math.Min(count, have.GetValueOrDefault(gram));
        int referenceCount = Math.Max(0, reference.Count - n + 1), predictionCount = Math.Max(0, prediction.Count - n + 1);
        double precision = (double)overlap / Math.Max(predictionCount, 1);
        double recall = (double)overlap / Math.Max(referenceCount, 1);
        return new RougeScore(precision, recall, FMeasure(precision, recall));
    }

    /// <summary>ROUGE-L of two token lists (rouge-score's _score_lcs).</summary>
    public static RougeScore Lcs(IReadOnlyList<string> reference, IReadOnlyList<string> prediction)
    {
        if (reference.Count == 0 || prediction.Count == 0) return new RougeScore(0, 0, 0);
        int lcs = RougeL.LongestCommonSubsequence(reference, prediction);
        double precision = (double)lcs / prediction.Count, recall = (double)lcs / reference.Count;
        return new RougeScore(precision, recall, FMeasure(precision, recall));
    }

    /// <summary>
    /// ROUGE-Lsum, summary-level LCS (Lin 2004, section 3.2) as rouge-score's rougeLsum: both texts are split into
    /// sentences at newlines (empty lines dropped); for each reference sentence the union of its LCS positions with
    /// every prediction sentence counts as hits, each token at most as often as it occurs in both texts (ROUGE-1.5.5's
    /// rule against double counting); precision = hits / prediction tokens, recall = hits / reference tokens.
    /// </summary>
    /// <remarks>
    /// Sentences must already be one per line: L-Eval puts them there with nltk.sent_tokenize before scoring, which this
    /// library does not reproduce. Among several longest common subsequences the one rouge-score's backtracking picks
    /// (prefer dropping the reference token on ties) is used, because the union depends on it.
    /// </remarks>
    public static RougeScore RougeLsum(string reference, string prediction, bool useStemmer = false)
    {
        var r = Sentences(reference).Select(x => Tokenize(x, useStemmer)).ToArray();
        var p = Sentences(prediction).Select(x => Tokenize(x, useStemmer)).ToArray();
        int m = r.Sum(x => x.Length), n = p.Sum(x => x.Length);
        if (m == 0 || n == 0) return new RougeScore(0, 0, 0);
        var referenceCounts = Counts(r.SelectMany(x => x));
        var predictionCounts = Counts(p.SelectMany(x => x));
        int hits = 0;
        foreach (var sentence in r)
        {
            var union = new SortedSet<int>();
            foreach (var candidate in p) union.UnionWith(LcsIndices(sentence, candidate));
            foreach (int i in union)
            {
                var token = sentence[i];
                if (referenceCounts[token] > 0 && predictionCounts.GetValueOrDefault(token) > 0)
                {
                    hits++;
                    referenceCounts[token]--;
                    predictionCounts[token]--;
                }
            }
        }
        double precision = (double)hits / n, recall = (double)hits / m;
        return new RougeScore(precision, recall, FMeasure(precision, recall));
    }

    /// <summary>Positions in <paramref name="reference"/> of one longest common subsequence, chosen as rouge-score's _backtrack_norec does.</summary>
    internal static List<int> LcsIndices(IReadOnlyList<string> reference, IReadOnlyList<string> candidate)
    {
        int rows = reference.Count, cols = candidate.Count;
        var t = new int[rows + 1, cols + 1];
        for (int i = 1; i <= rows; i++)
            for (int j = 1; j <= cols; j++)
                t[i, j] = reference[i - 1] == candidate[j - 1] ? t[i - 1, j - 1] + 1 : Math.Max(t[i - 1, j], t[i, j - 1]);
        var indices = new List<int>();
        for (int i = rows, j = cols; i > 0 && j > 0;)
        {
            if (reference[i - 1] == candidate[j - 1])
            {
                indices.Add(i - 1);
                i--;
                j--;
            }
            else if (t[i, j - 1] > t[i - 1, j]) j--;
            else i--;
        }
        indices.Reverse();
        return indices;
    }

    private static IEnumerable<string> Sentences(string text) => text.Split('\n').Where(x => x.Length > 0);

    private static Dictionary<string, int> Counts(IEnumerable<string> tokens)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tokens) counts[t] = counts.GetValueOrDefault(t) + 1;
        return counts;
    }

    /// <summary>rouge-score's scoring.fmeasure: the harmonic mean, 0 when both are 0.</summary>
    public static double FMeasure(double precision, double recall) =>
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;

    private static Dictionary<string, int> NGrams(IReadOnlyList<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            // Tokens hold only a–z and 0–9, so a space joins them without ambiguity.
            var gram = n == 1 ? tokens[i] : string.Join(' ', Enumerable.Range(i, n).Select(k => tokens[k]));
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }
}
