using Microsoft.ML.Tokenizers;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// <see cref="ITokenizer"/> over Microsoft.ML.Tokenizers' LlamaTokenizer, which reads tokenizer.model protobuf itself.
/// Test-only: it fails conformance vectors (TokenizerComparisonTests), so the library uses <see cref="SentencePieceBpe"/>.
/// The model is still parsed and validated by <see cref="SentencePieceModelReader"/> first, so bad files fail with
/// our <see cref="Elongate.Common.ModelFormatException"/> and <see cref="Vocabulary"/> is the same object shape as
/// every other source.
/// </summary>
public sealed class MlTokenizersSentencePiece : ITokenizer
{
    private readonly LlamaTokenizer _tokenizer;

    /// <param name="modelBytes">The tokenizer.model bytes, handed to ML.Tokenizers.</param>
    /// <param name="model">The same file as read by <see cref="SentencePieceModelReader"/>.</param>
    public MlTokenizersSentencePiece(byte[] modelBytes, SentencePieceModel model)
    {
        using var stream = new MemoryStream(modelBytes, writable: false);
        _tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        Vocabulary = model.Vocabulary;
        Options = model.Options;
    }

    public TokenVocabulary Vocabulary { get; }

    public SentencePieceOptions Options { get; }

    public string Implementation => "Microsoft.ML.Tokenizers 2.0.1 LlamaTokenizer";

    public bool StripsLeadingSpace => true;

    /// <inheritdoc/>
    public int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        // The comparison only covers plain text; LlamaTokenizer's special-token handling is not what we compare.
        if (parseSpecial) throw new ArgumentException("the ML.Tokenizers adapter is compared on plain text only", nameof(parseSpecial));
        return [.. _tokenizer.EncodeToIds(text, addBos, addEos, considerPreTokenization: true, considerNormalization: true)];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)Vocabulary.Count)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"id outside the {Vocabulary.Count}-piece vocabulary");
        return _tokenizer.Decode(ids.ToArray()) ?? "";
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id, bool special = false) => System.Text.Encoding.UTF8.GetBytes(Decode([id]));
}
