using System.Buffers.Binary;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// Reads llama2.c's <c>tokenizer.bin</c>: uint32 max_token_length, then per token float32 score, int32 byte length
/// and the UTF-8 bytes. The export (llama2.c tokenizer.py) rewrote id 1 as "\n&lt;s&gt;\n", id 2 as "\n&lt;/s&gt;\n" and U+2581
/// as ' ' and dropped the piece types; this reader undoes all of that (Unknown for id 0, Control for 1 and 2, Byte for
/// "&lt;0xNN&gt;", Normal otherwise; ' ' back to U+2581) so encoding is exactly SentencePiece's.
/// </summary>
/// <remarks>
/// The file does not store the vocabulary size; llama2.c's run.c takes it from the checkpoint header. Callers that know
/// it pass <c>vocabSize</c>, and the file must then hold exactly that many records. Without it the reader reads records
/// to end of file, which is unambiguous because every record is self-delimiting; a partial record is an error. The
/// normalizer settings are not stored either: llama2.c always adds the dummy prefix, never collapses spaces, and falls
/// back to bytes, so those are the options returned (byte fallback only when all 256 byte pieces exist).
/// </remarks>
public static class Llama2cTokenizerReader
{
    /// <summary>Upper bound on max_token_length; real exports are under 100 (Llama 2: 27), so larger means corruption.</summary>
    public const int MaxTokenLengthLimit = 1 << 16;

    /// <summary>Reads and validates a tokenizer.bin file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="vocabSize">Token count from the model header, or null to read records to end of file.</param>
    /// <exception cref="ModelFormatException">The file is malformed or does not match <paramref name="vocabSize"/>.</exception>
    public static SentencePieceModel Read(string path, int? vocabSize = null)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
        return Read(bytes, path, vocabSize);
    }

    /// <summary>Parses tokenizer.bin bytes; <paramref name="source"/> names the data in error messages.</summary>
    /// <exception cref="ModelFormatException">The bytes are malformed or do not match <paramref name="vocabSize"/>.</exception>
    public static SentencePieceModel Read(ReadOnlySpan<byte> data, string source = "<memory>", int? vocabSize = null)
    {
        if (data.Length < 4) throw new ModelFormatException(source, $"file is {data.Length} bytes, shorter than the 4-byte max_token_length header", 0);
        uint maxLen = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (maxLen == 0 || maxLen > MaxTokenLengthLimit)
            throw new ModelFormatException(source, $"max_token_length {maxLen} is outside 1..{MaxTokenLengthLimit}", 0, "max_token_length");
        // Each record is at least 9 bytes (score, length, one byte), which bounds a plausible vocab_size before allocating.
        if (vocabSize is { } vs && (vs < 3 || vs > (data.Length - 4) / 9))
            throw new ModelFormatException(source,
                $"vocab_size {vs} is impossible for a {data.Length}-byte tokenizer.bin (needs at least 3 tokens of at least 9 bytes each)", key: "vocab_size");

        var pieces = new List<string>(vocabSize ?? 0);
        var scores = new List<float>(vocabSize ?? 0);
        int pos = 4;
        while (vocabSize is { } want ? pieces.Count < want : pos < data.Length)
        {
            int id = pieces.Count;
            if (data.Length - pos < 8)
                throw new ModelFormatException(source, $"token {id} record is truncated ({data.Length - pos} bytes left, need 8 for score and length)", pos);
            float score = BinaryPrimitives.ReadSingleLittleEndian(data[pos..]);
            if (!float.IsFinite(score)) throw new ModelFormatException(source, $"token {id} has non-finite score {score}", pos);
            int len = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 4)..]);
            if (len < 1 || len > maxLen)
                throw new ModelFormatException(source, $"token {id} length {len} is outside 1..max_token_length ({maxLen})", pos + 4);
            pos += 8;
            if (len > data.Length - pos)
                throw new ModelFormatException(source, $"token {id} needs {len} bytes but only {data.Length - pos} remain", pos);
            pieces.Add(SentencePieceModel.DecodePiece(data.Slice(pos, len), pos, source, $"token {id}"));
            scores.Add(score);
            pos += len;
        }
        if (pos != data.Length)
            throw new ModelFormatException(source, $"{data.Length - pos} bytes follow the {pieces.Count} tokens of vocab_size", pos, "vocab_size");
        if (pieces.Count < 3) throw new ModelFormatException(source, $"only {pieces.Count} tokens; llama2.c exports have at least <unk>, <s>, </s>", pos);
        if (pieces[1] != "\n<s>\n" || pieces[2] != "\n</s>\n")
            throw new ModelFormatException(source,
                $"tokens 1 and 2 are '{SentencePieceModel.Printable(pieces[1])}' and '{SentencePieceModel.Printable(pieces[2])}', not llama2.c's \"\\n<s>\\n\" and \"\\n</s>\\n\"");

        int n = pieces.Count;
        var types = new TokenType[n];
        var spPieces = new string[n];
        int byteCount = 0;
        for (int i = 0; i < n; i++)
        {
            switch (i)
            {
                case 0: types[i] = TokenType.Unknown; spPieces[i] = pieces[i]; break;
                case 1: types[i] = TokenType.Control; spPieces[i] = "<s>"; break;
                case 2: types[i] = TokenType.Control; spPieces[i] = "</s>"; break;
                default:
                    if (SentencePieceModel.TryParseBytePiece(pieces[i], out _))
                    {
                        types[i] = TokenType.Byte;
                        spPieces[i] = pieces[i];
                        byteCount++;
                    }
                    else
                    {
                        types[i] = TokenType.Normal;
                        spPieces[i] = pieces[i].Replace(' ', '\u2581');
                    }
                    break;
            }
        }

        var vocab = new TokenVocabulary
        {
            Pieces = spPieces,
            Scores = scores.ToArray(),
            Types = types,
            UnkId = 0,
            BosId = 1,
            EosId = 2,
            AddBos = true,
            AddEos = false,
        };
        var options = new SentencePieceOptions { ByteFallback = byteCount > 0 };
        SentencePieceModel.Validate(vocab, options, source);
        return new SentencePieceModel(vocab, options);
    }
}
