
namespace Elongate.Tokenization;

/// <summary>
/// Text ↔ token ids for a vocabulary: SentencePiece (<see cref="SentencePieceBpe"/>) or byte-level BPE
/// (<see cref="ByteLevelBpe"/>); <see cref="Formats.TokenizerLoader"/> picks one for a file.
/// </summary>
public interface ITokenizer
{
    /// <summary>The vocabulary the ids index into.</summary>
    TokenVocabulary Vocabulary { get; }

    /// <summary>Which implementation encodes (for logs and reports).</summary>
    string Implementation { get; }

    /// <summary>
    /// Whether the first piece of an encoding carries a space that is not part of the text (SentencePiece's dummy
    /// prefix), which decoders drop.
    /// </summary>
    bool StripsLeadingSpace { get; }

    /// <summary>
    /// Encodes text exactly as the reference tokenizer would, optionally framed by BOS / EOS. With
    /// <paramref name="parseSpecial"/> the text of control tokens ("&lt;|eot_id|&gt;", "[INST]"…) becomes their ids, as
    /// llama.cpp's parse_special; without it they are ordinary text.
    /// </summary>
    int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial = false);

    /// <summary>Encodes with the vocabulary's default BOS/EOS policy.</summary>
    int[] Encode(string text) => Encode(text, Vocabulary.AddBos, Vocabulary.AddEos);

    /// <summary>
    /// Decodes ids to text: control ids vanish, bytes are joined into UTF-8 (invalid sequences become U+FFFD), and for
    /// SentencePiece "▁" becomes a space and the dummy-prefix space of the first piece is removed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>
    /// The bytes one token contributes to the text (possibly part of a UTF-8 character). Control and unknown tokens
    /// contribute nothing unless <paramref name="special"/>, which renders their text (llama.cpp's token_to_piece).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    byte[] TokenBytes(int id, bool special = false);
}
