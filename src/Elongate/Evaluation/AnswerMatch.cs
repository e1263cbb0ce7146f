using System.Text;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation;

/// <summary>
/// Normalized string match for needle-in-a-haystack answers, with no judge model. Both strings are normalized as
/// SQuAD's official script does (normalize_answer): lower-case, delete ASCII punctuation characters, replace the
/// words "a", "an", "the" by a space, and split on whitespace. The score is the fraction of the expected answer's
/// tokens (counted with repetition) that occur anywhere in the generated answer's tokens — a recall that ignores order
/// and extra words, so a model that restates the question before answering is not penalised.
/// </summary>
public static partial class AnswerMatch
{
    // SQuAD removes the articles with re.sub(r"\b(a|an|the)\b", " ") after punctuation is gone, so an article glued to
    // a non-ASCII mark ("“the”") is still removed — a whitespace split followed by a token filter would keep it.
    [GeneratedRegex(@"\b(a|an|the)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Articles();

    /// <summary>
    /// SQuAD v1.1/v2.0 normalize_answer, returned as tokens: lower-case; delete the 32 ASCII punctuation characters of
    /// Python's string.punctuation (non-ASCII punctuation such as “ ” – stays, as in SQuAD); articles a/an/the become
    /// spaces; split on whitespace (Python's str.split set).
    /// </summary>
    public static string[] Normalize(string text) => SplitWhitespace(Articles().Replace(RemovePunctuation(text.ToLowerInvariant()), " "));

    /// <summary>SQuAD normalize_answer as the string it returns: <see cref="Normalize"/>'s tokens joined by single spaces.</summary>
    public static string NormalizeText(string text) => string.Join(' ', Normalize(text));

    /// <summary>Fraction in [0, 1] of <paramref name="expected"/>'s normalized tokens present in <paramref name="generated"/>'s; 0 when the expected answer normalizes to nothing.</summary>
    public static double Score(string expected, string generated)
    {
        var want = Normalize(expected);
        if (want.Length == 0) return 0;
        var have = new HashSet<string>(Normalize(generated), StringComparer.Ordinal);
        return (double)want.Count(have.Contains) / want.Length;
    }

    /// <summary>True for the characters of Python's string.punctuation: !"#$%&amp;'()*+,-./:;&lt;=&gt;?@[\]^_`{|}~.</summary>
    public static bool IsAsciiPunctuation(char c) => c < 128 && (char.IsPunctuation(c) || char.IsSymbol(c));

    private static string RemovePunctuation(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
            if (!IsAsciiPunctuation(c)) sb.Append(c);
        return sb.ToString();
    }

    // Python's str.split() splits on \x1c–\x1f as well as what char.IsWhiteSpace accepts.
    private static string[] SplitWhitespace(string text)
    {
        var tokens = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool space = i == text.Length || IsPythonWhitespace(text[i]);
            if (space && start >= 0) { tokens.Add(text[start..i]); start = -1; }
            else if (!space && start < 0) start = i;
        }
        return tokens.ToArray();
    }

    /// <summary>Whitespace as Python's str.split() and str.strip() see it.</summary>
    public static bool IsPythonWhitespace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';
}
