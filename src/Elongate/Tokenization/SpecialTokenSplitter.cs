namespace Elongate.Tokenization;

/// <summary>
/// Cuts special tokens out of text before the tokenizer proper sees it, as llama.cpp's tokenizer_st_partition does:
/// each candidate piece, longest first, is searched for in the raw stretches left by the longer ones, and every
/// occurrence becomes its own id, never split. Control and Unknown pieces take part only when the caller asks
/// (llama.cpp's parse_special, our <c>--special</c>); UserDefined pieces always do, as in Hugging Face tokenizers.
/// </summary>
public sealed class SpecialTokenSplitter
{
    private readonly (string Text, int Id, bool OnlyWhenAsked)[] _candidates;
    private readonly TokenStrip[]? _strip;

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
        var next = new List<(int, int, int)>();
        foreach (var (piece, id, onlyWhenAsked) in _candidates)
        {
            if (onlyWhenAsked && !parseSpecial) continue;
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

    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
