using System.Buffers;

namespace Elongate.Tokenization;

/// <summary>
/// Cuts special tokens out of text before the tokenizer proper sees it, as llama.cpp's tokenizer_st_partition does:
/// each candidate piece, longest first, is searched for in the raw stretches left by the longer ones, and every
/// occurrence becomes its own id, never split. Control and Unknown pieces take part only when the caller asks
/// (llama.cpp's parse_special, our <c>--special</c>); UserDefined pieces always do, as in Hugging Face tokenizers.
/// </summary>
/// <remarks>
/// A vocabulary may have thousands of candidates (DeepSeek LLM: 2,400 user-defined pieces), nearly all absent from a
/// given text, so one multi-string search first finds which of them occur at all; only those are then cut, in the
/// order above, which gives the same fragments as trying every candidate.
/// </remarks>
public sealed class SpecialTokenSplitter
{
    private readonly (string Text, int Id, bool OnlyWhenAsked)[] _candidates;
    private readonly TokenStrip[]? _strip;
    // Every candidate's text, for parse_special off (UserDefined only) and on; null when there is none.
    private readonly SearchValues<string>? _always, _all;
    // Candidate indices by first character, longest first.
    private readonly Dictionary<char, int[]> _byFirstChar;

    /// <param name="vocabulary">The vocabulary whose special pieces are cut out.</param>
    /// <param name="userDefinedAlways">Whether UserDefined pieces are cut out even when special parsing is off (false
    /// for SentencePiece, whose own merging keeps them whole).</param>
    public SpecialTokenSplitter(TokenVocabulary vocabulary, bool userDefinedAlways)
    {
        var list = new List<(string, int, bool)>();
        for (int id = 0; id < vocabulary.Count; id++)
        {
            var type = vocabulary.Types[id];
            bool special = type is TokenType.Control or TokenType.Unknown;
            if (!special && type != TokenType.UserDefined) continue;
            if (vocabulary.Pieces[id].Length == 0) continue;
            list.Add((vocabulary.Pieces[id], id, special || !userDefinedAlways));
        }
        _strip = vocabulary.Strip;
        // Longest first, so "<|im_start|>" wins over a shorter piece it contains; ties by id for a stable order.
        _candidates = [.. list.OrderByDescending(c => c.Item1.Length).ThenBy(c => c.Item2)];
        var always = _candidates.Where(c => !c.OnlyWhenAsked).Select(c => c.Text).ToArray();
        _always = always.Length > 0 ? SearchValues.Create(always, StringComparison.Ordinal) : null;
        _all = _candidates.Length > 0 ? SearchValues.Create(_candidates.Select(c => c.Text).ToArray(), StringComparison.Ordinal) : null;
        _byFirstChar = Enumerable.Range(0, _candidates.Length).GroupBy(i => _candidates[i].Text[0]).ToDictionary(g => g.Key, g => g.ToArray());
    }

    /// <summary>Whether any piece would be cut out at all for this setting (lets callers skip the work).</summary>
    public bool HasCandidates(bool parseSpecial) => _candidates.Any(c => parseSpecial || !c.OnlyWhenAsked);

    /// <summary>
    /// The fragments of <paramref name="text"/> in order: raw stretches (Id = -1) and special tokens (Id ≥ 0, with the
    /// span of text they replaced).
    /// </summary>
    public List<(int Start, int Length, int Id)> Split(string text, bool parseSpecial)
    {
        var fragments = new List<(int Start, int Length, int Id)> { (0, text.Length, -1) };
        if (text.Length == 0) return fragments;
        var present = Present(text, parseSpecial);
        if (present is null) return fragments;
        var next = new List<(int, int, int)>();
        for (int c = 0; c < _candidates.Length; c++)
        {
            if (!present[c]) continue;
            var (piece, id, _) = _candidates[c];
            bool any = false;
            next.Clear();
            foreach (var f in fragments)
            {
                if (f.Id >= 0 || f.Length < piece.Length) { next.Add(f); continue; }
                int at = f.Start, end = f.Start + f.Length;
                while (true)
                {
                    int found = text.AsSpan(at, end - at).IndexOf(piece, StringComparison.Ordinal);
                    if (found < 0) break;
                    any = true;
                    var strip = _strip is not null && id < _strip.Length ? _strip[id] : TokenStrip.None;
                    int left = found;
                    // llama.cpp strips with C isspace: ASCII space, \t, \n, \v, \f, \r.
                    if ((strip & TokenStrip.Left) != 0)
                        while (left > 0 && IsSpace(text[at + left - 1])) left--;
                    if (left > 0) next.Add((at, left, -1));
                    next.Add((at + found, piece.Length, id));
                    at += found + piece.Length;
                    if ((strip & TokenStrip.Right) != 0)
                        while (at < end && IsSpace(text[at])) at++;
                }
                if (at < end) next.Add((at, end - at, -1));
            }
            if (any) (fragments, next) = (next, fragments);
        }
        return fragments;
    }

    /// <summary>Which candidates occur in <paramref name="text"/> (the search reports every position where one
    /// starts), or null when none does.</summary>
    private bool[]? Present(string text, bool parseSpecial)
    {
        var search = parseSpecial ? _all : _always;
        if (search is null) return null;
        bool[]? present = null;
        var span = text.AsSpan();
        for (int at = 0; at < span.Length;)
        {
            int found = span[at..].IndexOfAny(search);
            if (found < 0) break;
            at += found;
            foreach (int c in _byFirstChar[span[at]])
                if ((parseSpecial || !_candidates[c].OnlyWhenAsked) && span[at..].StartsWith(_candidates[c].Text, StringComparison.Ordinal))
                    (present ??= new bool[_candidates.Length])[c] = true;
            at++;
        }
        return present;
    }

    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
