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
/// Byte-level BPE (GGUF "gpt2" vocabularies), evaluated 2026-12-01 (MlTokenizersBpeComparisonTests): its BpeTokenizer
/// (ByteLevel, built in memory from the GGUF pieces and merges) gives llama.cpp's ids on all 46 vectors and all 11
/// books for gpt-2, deepseek-llm, falcon and starcoder. But its RegexPreTokenizer runs one expression, which only
/// gpt-2's split is; deepseek-llm, falcon and starcoder (like most of llama.cpp's pre-tokenizers) apply several in
/// turn, so it needs our PreTokenizer and SpecialTokenSplitter anyway, and special tokens cannot be switched per call
/// (parse_special). It is also slower: 11.0 / 6.0 / 7.7 / 10.1 MB/s against ByteLevelBpe's 13.6 / 6.7 / 12.0 / 14.0
/// (llama.cpp 2.8 / 1.2 / 2.1 / 2.8; bench/results/tokenize-2core.txt). So these use <see cref="ByteLevelBpe"/>, and
/// the library does not depend on ML.Tokenizers.
/// </remarks>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads a tokenizer.model, tokenizer.bin, Hugging Face tokenizer.json or the vocabulary of a GGUF, choosing the
    /// reader from the file's content. A folder is read as a Hugging Face tokenizer folder (<see cref="ReadFolder"/>).
    /// </summary>
    /// <param name="path">The tokenizer file, or a folder holding tokenizer.model or tokenizer.json.</param>
    /// <param name="vocabSize">For tokenizer.bin, the model's vocab_size (the file does not store it); null reads to end of file. Ignored for other formats.</param>
    /// <exception cref="ModelFormatException">The file is malformed or of an unsupported kind.</exception>
    public static ITokenizer Load(string path, int? vocabSize = null)
    {
        if (Directory.Exists(path))
        {
            var (vocabulary, model) = ReadFolderWithOptions(path) ?? throw new ModelFormatException(path,
                $"the folder holds neither tokenizer.model nor {HfTokenizerReader.FileName}");
            return model is not null ? new SentencePieceBpe(model with { Vocabulary = vocabulary }, path) : FromVocabulary(vocabulary, path);
        }
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
        // tokenizer_config.json and chat_template.jinja beside a tokenizer.json complete it.
        if (Detect(bytes) == TokenizerFileKind.Json) return FromVocabulary(HfTokenizerReader.Read(path), path);
        return Load(bytes, path, vocabSize);
    }

    /// <summary>
    /// The vocabulary of a Hugging Face folder, or null when it has no tokenizer: tokenizer.model when present (the
    /// exact SentencePiece source, which tokenizer.json was converted from), else tokenizer.json; tokenizer_config.json
    /// and chat_template.jinja beside them complete it (special tokens, add_bos_token, chat template).
    /// </summary>
    /// <exception cref="ModelFormatException">A tokenizer file is malformed or unsupported.</exception>
    public static TokenVocabulary? ReadFolder(string folder) => ReadFolderWithOptions(folder)?.Vocabulary;

    private static (TokenVocabulary Vocabulary, SentencePieceModel? Model)? ReadFolderWithOptions(string folder)
    {
        string model = Path.Combine(folder, "tokenizer.model"), json = Path.Combine(folder, HfTokenizerReader.FileName);
        if (File.Exists(model))
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(model);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ModelFormatException(model, $"cannot read file: {e.Message}", inner: e);
            }
            var sp = SentencePieceModelReader.Read(bytes, model);
            var vocabulary = sp.Vocabulary;
            string config = Path.Combine(folder, HfTokenizerReader.ConfigFileName), template = Path.Combine(folder, HfTokenizerReader.ChatTemplateFileName);
            try
            {
                if (File.Exists(config)) vocabulary = HfTokenizerReader.ApplyConfig(vocabulary, File.ReadAllBytes(config), config);
                if (File.Exists(template)) vocabulary = vocabulary with { ChatTemplate = File.ReadAllText(template) };
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ModelFormatException(folder, $"cannot read tokenizer settings: {e.Message}", inner: e);
            }
            return (vocabulary, sp);
        }
        if (File.Exists(json)) return (HfTokenizerReader.Read(json), null);
        return null;
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
            case TokenizerFileKind.Json:
                return FromVocabulary(HfTokenizerReader.Read(bytes, source), source);
            default:
                throw new ModelFormatException(source,
                    $"content is {kind}; this loader reads SentencePiece tokenizer.model, llama2.c tokenizer.bin, Hugging Face tokenizer.json and GGUF files", 0);
        }
    }

    /// <summary>
    /// '{' then '"' or '}' (whitespace and a UTF-8 byte order mark allowed around them). Checked before tokenizer.model,
    /// whose ModelProto could begin 0x0A 0x7B ("\n{") when its first piece is 123 bytes long, but is then followed by
    /// the piece's own tag, never by '"'.
    /// </summary>
    private static bool LooksLikeJsonObject(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) head = head[3..];
        int i = SkipSpace(head, 0);
        if (i >= head.Length || head[i] != (byte)'{') return false;
        i = SkipSpace(head, i + 1);
        return i < head.Length && head[i] is (byte)'"' or (byte)'}';

        static int SkipSpace(ReadOnlySpan<byte> s, int i)
        {
            while (i < s.Length && s[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
            return i;
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
        if (LooksLikeJsonObject(head)) return TokenizerFileKind.Json;
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
