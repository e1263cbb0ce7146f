
namespace Elongate.Tokenization;

/// <summary>
/// Text ↔ token ids for a Llama-family SentencePiece vocabulary. Implemented by our own <see cref="SentencePieceBpe"/>
/// and, for tokenizer.model files, by an adapter over Microsoft.ML.Tokenizers; <see cref="Formats.TokenizerLoader"/> picks one.
/// </summary>
public interface ITokenizer
{
    /// <summary>The vocabulary the ids index into.</summary>
    TokenVocabulary Vocabulary { get; }

    /// <summary>The normalizer settings encoding follows.</summary>
    SentencePieceOptions Options { get; }

    /// <summary>Which implementation encodes (for logs and reports).</summary>
    string Implementation { get; }

    /// <summary>Encodes text exactly as SentencePiece would, optionally framed by BOS / EOS.</summary>
    int[] Encode(string text, bool addBos, bool addEos);

    /// <summary>Encodes with the vocabulary's default BOS/EOS policy.</summary>
    int[] Encode(string text) => Encode(text, Vocabulary.AddBos, Vocabulary.AddEos);

    /// <summary>
    /// Decodes ids as SentencePiece's DecodeIds: control ids vanish, byte ids are joined into UTF-8 (invalid
    /// sequences become U+FFFD), U+2581 becomes a space, and the dummy-prefix space of the first piece is removed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    string Decode(ReadOnlySpan<int> ids);
}
