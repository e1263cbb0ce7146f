using System.Text;

namespace Elongate.Tokenization;

/// <summary>
/// Turns generated ids into text one at a time, the way llama2.c prints during generation: the leading space of a
/// piece right after BOS is dropped, byte pieces (&lt;0xNN&gt;) are raw bytes, and bytes are held back until they form
/// complete UTF-8 characters, so a multi-byte character split over several byte tokens prints once, intact.
/// Control pieces print nothing (llama2.c would print its "\n&lt;s&gt;\n" spelling); the unknown id prints the
/// unknown surface. Invalid or incomplete byte sequences become U+FFFD when a text piece or <see cref="Flush"/> ends them.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly TokenVocabulary _vocab;
    private readonly string _unknownSurface;
    private readonly string[] _text;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly byte[] _one = new byte[1];
    private readonly char[] _chars = new char[16];
    private int _prev = -1;

    public StreamingDecoder(TokenVocabulary vocabulary, SentencePieceOptions? options = null)
    {
        _vocab = vocabulary;
        _unknownSurface = (options ?? SentencePieceOptions.Llama).UnknownSurface;
        _text = new string[vocabulary.Count];
        for (int i = 0; i < _text.Length; i++) _text[i] = vocabulary.Pieces[i].Replace('\u2581', ' ');
    }

    /// <summary>Feeds the next id (the first call usually follows the BOS the prompt started with: pass it too).</summary>
    /// <returns>Text now complete; may be empty while a UTF-8 character is still being assembled.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    public string Push(int id)
    {
        if ((uint)id >= (uint)_text.Length) throw new ArgumentOutOfRangeException(nameof(id), id, $"id outside the {_text.Length}-piece vocabulary");
        int prev = _prev;
        _prev = id;
        var type = _vocab.Types[id];
        if (type == TokenType.Byte)
        {
            SentencePieceModel.TryParseBytePiece(_vocab.Pieces[id], out _one[0]);
            int n = _utf8.GetChars(_one, 0, 1, _chars, 0, flush: false);
            return new string(_chars, 0, n);
        }
        string pending = Flush();
        string text = type switch
        {
            TokenType.Control => "",
            TokenType.Unknown => _unknownSurface,
            _ => prev == _vocab.BosId && _text[id].StartsWith(' ') ? _text[id][1..] : _text[id],
        };
        return pending.Length == 0 ? text : pending + text;
    }

    /// <summary>Returns any held-back bytes as U+FFFD (they never completed a character) and clears them.</summary>
    public string Flush()
    {
        int n = _utf8.GetChars([], 0, 0, _chars, 0, flush: true);
        return n == 0 ? "" : new string(_chars, 0, n);
    }

    /// <summary>Forgets the previous id and any held-back bytes, for a new sequence.</summary>
    public void Reset()
    {
        _utf8.Reset();
        _prev = -1;
    }
}
