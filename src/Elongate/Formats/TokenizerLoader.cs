using System.Buffers.Binary;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Opens any supported tokenizer file by content, not by extension, and returns the implementation that is verified
/// for it.
/// </summary>
/// <remarks>
/// Project rule: use the established library wherever it passes every conformance vector. Microsoft.ML.Tokenizers
/// 2.0.1 (LlamaTokenizer) reads tokenizer.model, but fails vectors (TokenizerComparisonTests records them):
/// llama.cpp vector "!!!!!!" gives [1738 21004 6824] instead of SentencePiece's [1738 6824 21004] ("▁!!", "!!!!",
/// "!!": its merge order differs on this run of equal characters); the long mixed vector differs on
/// "------=======", runs of quotes and "......!!!!!!??????"; and "" with BOS gives [] instead of [1] (llama2.c test.c).
/// On the corpus books the same merge-order difference appears on long runs of spaces and asterisks, and it encodes
/// 10-15x slower than ours.
/// So every source, tokenizer.model included, uses <see cref="SentencePieceBpe"/>, which passes all of them;
/// tokenizer.bin and GGUF vocabularies have no protobuf for ML.Tokenizers to read anyway. Re-run that test when
/// upgrading the package.
/// </remarks>
public static class TokenizerLoader
{
    /// <summary>Loads a tokenizer.model, tokenizer.bin or the vocabulary of a GGUF, choosing the reader from the file's content.</summary>
    /// <param name="path">The tokenizer file.</param>
    /// <param name="vocabSize">For tokenizer.bin, the model's vocab_size (the file does not store it); null reads to end of file. Ignored for other formats.</param>
    /// <exception cref="ModelFormatException">The file is malformed or of an unsupported kind.</exception>
    public static ITokenizer Load(string path, int? vocabSize = null)
    {
        // A GGUF may be a multi-gigabyte model: read only its metadata through a memory map.
        if (IsGgufFile(path))
        {
            using var gguf = Formats.GgufFile.Open(path);
            return FromVocabulary(Formats.GgufVocabularyReader.Read(gguf), path);
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
        return Load(bytes, path, vocabSize);
    }

    /// <summary>Loads a tokenizer from bytes; <paramref name="source"/> names them in errors.</summary>
    /// <exception cref="ModelFormatException">The bytes are malformed or of an unsupported kind.</exception>
    public static ITokenizer Load(byte[] bytes, string source, int? vocabSize = null)
    {
        var kind = Detect(bytes);
        switch (kind)
        {
            case TokenizerFileKind.SentencePieceModel:
                // Not MlTokenizersSentencePiece: it fails conformance vectors (see remarks).
                return new SentencePieceBpe(SentencePieceModelReader.Read(bytes, source), source);
            case TokenizerFileKind.Llama2cBin:
                return new SentencePieceBpe(Llama2cTokenizerReader.Read(bytes, source, vocabSize), source);
            case TokenizerFileKind.Gguf:
                using (var gguf = Formats.GgufFile.FromBytes(bytes, source))
                    return FromVocabulary(Formats.GgufVocabularyReader.Read(gguf), source);
            default:
                throw new ModelFormatException(source,
                    $"content is {kind}; this loader reads SentencePiece tokenizer.model and llama2.c tokenizer.bin files", 0);
        }
    }

    private static bool IsGgufFile(string path)
    {
        try
        {
            Span<byte> head = stackalloc byte[4];
            using var f = File.OpenRead(path);
            return f.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && Detect(head) == TokenizerFileKind.Gguf;
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
    }

    /// <summary>
    /// Wraps a vocabulary in the encoder for its kind: byte-level BPE, or SentencePiece with Llama 2's normalizer
    /// settings (GGUF does not store them).
    /// </summary>
    /// <exception cref="ModelFormatException">The vocabulary is inconsistent or names an unknown pre-tokenizer.</exception>
    public static ITokenizer FromVocabulary(TokenVocabulary vocabulary, string source) => vocabulary.Kind switch
    {
        VocabularyKind.BytePairEncoding => new ByteLevelBpe(vocabulary, source),
        _ => SentencePieceBpe.FromVocabulary(vocabulary, source),
    };

    /// <summary>
    /// Classifies a file by its first bytes. A ModelProto begins with field 1 (pieces, tag 0x0A), a non-zero length
    /// and the nested piece's own tag 0x0A. tokenizer.bin begins with a small little-endian max_token_length, whose
    /// high bytes are zero, so even a max_token_length of 10 (0x0A 00 00 00) is told apart by the zero length byte.
    /// </summary>
    public static TokenizerFileKind Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 4 && head[..4].SequenceEqual("GGUF"u8)) return TokenizerFileKind.Gguf;
        if (head.Length >= 3 && head[0] == 0x0A)
        {
            int i = 1;
            ulong len = 0;
            for (int shift = 0; i < head.Length && i <= 5; i++, shift += 7)
            {
                len |= (ulong)(head[i] & 0x7F) << shift;
                if ((head[i] & 0x80) == 0) { i++; break; }
            }
            if (len > 0 && i < head.Length && head[i] == 0x0A) return TokenizerFileKind.SentencePieceModel;
        }
        if (head.Length >= 4)
        {
            uint maxLen = BinaryPrimitives.ReadUInt32LittleEndian(head);
            if (maxLen is > 0 and <= Llama2cTokenizerReader.MaxTokenLengthLimit) return TokenizerFileKind.Llama2cBin;
        }
        return TokenizerFileKind.Unknown;
    }
}
