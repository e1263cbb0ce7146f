using System.Text.RegularExpressions;

namespace Elongate.Evaluation;

/// <summary>Precision, recall and F-measure of one ROUGE comparison.</summary>
public readonly record struct RougeScore(double Precision, double Recall, double FMeasure);

/// <summary>
/// ROUGE-L (Lin 2004) exactly as Google's rouge-score package computes it without stemming: both texts are
/// lower-cased, every run of characters other than a–z and 0–9 becomes a space, the result is split on spaces,
/// and the longest common subsequence of the two token lists gives precision = LCS/|prediction|,
/// recall = LCS/|reference| and F = 2PR/(P+R).
/// </summary>
public static partial class RougeL
{
    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonAlphanumeric();

    /// <summary>rouge-score's default tokenizer (no stemming).</summary>
    public static string[] Tokenize(string text) =>
        NonAlphanumeric().Replace(text.ToLowerInvariant(), " ").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Scores <paramref name="prediction"/> against <paramref name="reference"/> (rouge-score's rougeL without stemming).</summary>
    public static RougeScore Score(string reference, string prediction) => Tasks.Rouge.Lcs(Tokenize(reference), Tokenize(prediction));

    /// <summary>Length of the longest common subsequence, in O(|a|·|b|) time and O(|b|) memory.</summary>
    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var prev = new int[b.Count + 1];
        var cur = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : Math.Max(prev[j], cur[j - 1]);
            (prev, cur) = (cur, prev);
        }
        return prev[b.Count];
    }
}
