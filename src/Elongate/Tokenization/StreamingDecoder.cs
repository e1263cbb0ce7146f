using System.Text;

namespace Elongate.Tokenization;

/// <summary>
/// Turns generated ids into text one at a time, the way llama2.c and llama.cpp print during generation: each token's
/// bytes (<see cref="ITokenizer.TokenBytes"/>) go through one UTF-8 decoder, so a character split over several tokens
/// (SentencePiece byte pieces, or a byte-level BPE token ending mid-character) prints once, intact. For SentencePiece
/// the leading space of a piece right after BOS is dropped (the dummy prefix). Control tokens print nothing unless
/// <c>special</c> is set. Invalid or incomplete byte sequences become U+FFFD when later bytes or <see cref="Flush"/> end them.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _special;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private char[] _chars = new char[64];
    private int _prev = -1;

    /// <param name="tokenizer">The tokenizer whose ids are fed.</param>
    /// <param name="special">Print the text of control tokens too (llama.cpp's --special).</param>
    public StreamingDecoder(ITokenizer tokenizer, bool special = false)
    {
        _tokenizer = tokenizer;
        _special = special;
    }

    /// <summary>Feeds the next id (the first call usually follows the BOS the prompt started with: pass it too).</summary>
    /// <returns>Text now complete; may be empty while a UTF-8 character is still being assembled.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    public string Push(int id)
    {
        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(id, _special);
        int prev = _prev;
        _prev = id;
        if (_tokenizer.StripsLeadingSpace && prev == _tokenizer.Vocabulary.BosId && prev >= 0 && bytes.Length > 0 && bytes[0] == (byte)' '
            && _tokenizer.Vocabulary.Types[id] is TokenType.Normal or TokenType.UserDefined)
            bytes = bytes[1..];
        if (bytes.IsEmpty) return "";
        int max = _utf8.GetCharCount(bytes, flush: false);
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush: false);
        return new string(_chars, 0, n);
    }

    /// <summary>Returns any held-back bytes as U+FFFD (they never completed a character) and clears them.</summary>
    public string Flush()
    {
        int n = _utf8.GetChars([], _chars, flush: true);
        return n == 0 ? "" : new string(_chars, 0, n);
    }

    /// <summary>Forgets the previous id and any held-back bytes, for a new sequence.</summary>
    public void Reset()
    {
        _utf8.Reset();
        _prev = -1;
    }
}
