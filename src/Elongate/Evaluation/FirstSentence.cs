namespace Elongate.Evaluation;

/// <summary>
/// What "the first sentence" of a text means for FIRST-SENTENCE-RETRIEVAL: after skipping leading whitespace, the
/// text up to and including the first '.', '!' or '?' that is immediately followed by whitespace or by the end of
/// the text. A terminator followed by anything else (a closing quote, a digit as in "3.5", a letter as in "e.g")
/// does not end the sentence. Abbreviations such as "Mr. " do end it under this rule; the evaluation avoids such
/// starts by accepting only sentences of a plausible word count (see <see cref="FirstSentenceEvaluation"/>).
/// </summary>
public static class FirstSentence
{
    /// <summary>Whether <paramref name="c"/> can end a sentence.</summary>
    public static bool IsTerminator(char c) => c is '.' or '!' or '?';

    /// <summary>
    /// The first sentence of <paramref name="text"/> from <paramref name="start"/> (leading whitespace skipped), or
    /// null when no terminator followed by whitespace or the end occurs.
    /// </summary>
    public static string? Extract(string text, int start = 0)
    {
        int s = start;
        while (s < text.Length && char.IsWhiteSpace(text[s])) s++;
        for (int i = s; i < text.Length; i++)
            if (IsTerminator(text[i]) && (i + 1 == text.Length || char.IsWhiteSpace(text[i + 1])))
                return text[s..(i + 1)];
        return null;
    }

    /// <summary>
    /// Positions where a sentence may begin: the first non-whitespace character of the text, and the first
    /// non-whitespace character after every sentence end (terminator + whitespace).
    /// </summary>
    public static List<int> SentenceStarts(string text)
    {
        var starts = new List<int>();
        int i = 0;
        while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
        if (i < text.Length) starts.Add(i);
        for (int j = i; j + 1 < text.Length; j++)
        {
            if (!IsTerminator(text[j]) || !char.IsWhiteSpace(text[j + 1])) continue;
            int k = j + 1;
            while (k < text.Length && char.IsWhiteSpace(text[k])) k++;
            if (k < text.Length) starts.Add(k);
            j = k - 1;
        }
        return starts;
    }

    /// <summary>
    /// Sentence boundaries usable for inserting text: 0, the end of the text, and every index just after a
    /// terminator that is followed by whitespace (so inserting " X" there keeps whole sentences whole).
    /// </summary>
    public static List<int> Boundaries(string text)
    {
        var b = new List<int> { 0 };
        for (int i = 0; i + 1 < text.Length; i++)
            if (IsTerminator(text[i]) && char.IsWhiteSpace(text[i + 1])) b.Add(i + 1);
        if (text.Length > 0 && b[^1] != text.Length) b.Add(text.Length);
        return b;
    }
}
