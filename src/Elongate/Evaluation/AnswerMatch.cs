using System.Text;

namespace Elongate.Evaluation;

/// <summary>
/// Normalized string match for needle-in-a-haystack answers, with no judge model. Both strings are normalized as
/// SQuAD's official script does (normalize_answer): lower-case, delete ASCII punctuation characters, drop the
/// words "a", "an", "the", and split on whitespace. The score is the fraction of the expected answer's tokens
/// (counted with repetition) that occur anywhere in the generated answer's tokens — a recall that ignores order
/// and extra words, so a model that restates the question before answering is not penalised.
/// </summary>
public static class AnswerMatch
{
    private static readonly HashSet<string> Articles = ["a", "an", "the"];

    /// <summary>SQuAD normalization, returned as tokens.</summary>
    public static string[] Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
            if (!(c < 128 && char.IsPunctuation(c) || c < 128 && char.IsSymbol(c))) sb.Append(c);
        return sb.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(w => !Articles.Contains(w)).ToArray();
    }

    /// <summary>Fraction in [0, 1] of <paramref name="expected"/>'s normalized tokens present in <paramref name="generated"/>'s; 0 when the expected answer normalizes to nothing.</summary>
    public static double Score(string expected, string generated)
    {
        var want = Normalize(expected);
        if (want.Length == 0) return 0;
        var have = new HashSet<string>(Normalize(generated), StringComparer.Ordinal);
        return (double)want.Count(have.Contains) / want.Length;
    }
}
