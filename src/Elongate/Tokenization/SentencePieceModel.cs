using System.Text;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer as read from disk: the vocabulary plus the normalizer settings that change how text
/// maps to pieces. Readers (<see cref="SentencePieceModelReader"/>, <see cref="Llama2cTokenizerReader"/>, and GGUF
/// vocabulary readers) produce this; <see cref="SentencePieceBpe"/> encodes with it.
/// </summary>
public sealed record SentencePieceModel(TokenVocabulary Vocabulary, SentencePieceOptions Options)
{
    internal static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Checks the vocabulary-wide invariants every source must satisfy before an encoder may index with it: equal array
    /// lengths, non-empty unique pieces, finite scores, known types, well-formed and unique byte pieces (all 256 when
    /// byte fallback is on), and special ids in range with the right types. Per-piece problems that have a byte offset
    /// are reported by the readers themselves; this reports the piece index as the key.
    /// </summary>
    /// <exception cref="ModelFormatException">The vocabulary is inconsistent.</exception>
    public static void Validate(TokenVocabulary vocabulary, SentencePieceOptions options, string source)
    {
        var v = vocabulary;
        if (v.Pieces is null || v.Scores is null || v.Types is null)
            throw new ModelFormatException(source, "vocabulary arrays must not be null");
        int n = v.Pieces.Length;
        if (n == 0) throw new ModelFormatException(source, "vocabulary has no pieces");
        if (v.Scores.Length != n || v.Types.Length != n)
            throw new ModelFormatException(source, $"vocabulary has {n} pieces but {v.Scores.Length} scores and {v.Types.Length} types");
        var seen = new Dictionary<string, int>(n, StringComparer.Ordinal);
        Span<bool> bytesSeen = stackalloc bool[256];
        int byteCount = 0;
        for (int i = 0; i < n; i++)
        {
            string key = $"pieces[{i}]";
            var piece = v.Pieces[i];
            if (string.IsNullOrEmpty(piece)) throw new ModelFormatException(source, "piece is empty", key: key);
            if (!float.IsFinite(v.Scores[i])) throw new ModelFormatException(source, $"score {v.Scores[i]} is not finite", key: key);
            var type = v.Types[i];
            if (type is < TokenType.Normal or > TokenType.Byte) throw new ModelFormatException(source, $"unknown piece type {(int)type}", key: key);
            if (!seen.TryAdd(piece, i))
                throw new ModelFormatException(source, $"piece '{Printable(piece)}' is defined twice (ids {seen[piece]} and {i})", key: key);
            if (type == TokenType.Byte)
            {
                if (!TryParseBytePiece(piece, out byte b))
                    throw new ModelFormatException(source, $"byte piece '{Printable(piece)}' is not of the form <0xNN>", key: key);
                if (bytesSeen[b]) throw new ModelFormatException(source, $"byte piece <0x{b:X2}> is defined twice", key: key);
                bytesSeen[b] = true;
                byteCount++;
            }
        }
        if (options.ByteFallback && byteCount != 256)
            throw new ModelFormatException(source, $"byte fallback is on but the vocabulary has {byteCount} of the 256 <0xNN> byte pieces");
        // Types of the special pieces are not checked: converted vocabularies type them loosely (Phi-3's GGUF has
        // <unk> as Control and </s> as UserDefined) and llama.cpp accepts that; only their range matters here.
        if (v.UnkId == -1 && !options.ByteFallback)
            throw new ModelFormatException(source, "without byte fallback the vocabulary needs an unknown piece", key: "unk_id");
        CheckSpecial(v.UnkId, "unk_id");
        CheckSpecial(v.BosId, "bos_id");
        CheckSpecial(v.EosId, "eos_id");

        void CheckSpecial(int id, string name)
        {
            // -1 disables the symbol, as in sentencepiece's TrainerSpec.
            if (id != -1 && (uint)id >= (uint)n)
                throw new ModelFormatException(source, $"{name} {id} is outside the {n}-piece vocabulary", key: name);
        }
    }

    /// <summary>Parses SentencePiece's byte-piece spelling "&lt;0xNN&gt;" (two upper-case hex digits).</summary>
    public static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>') return false;
        int hi = Hex(piece[3]), lo = Hex(piece[4]);
        if (hi < 0 || lo < 0) return false;
        value = (byte)(hi << 4 | lo);
        return true;

        static int Hex(char c) => c is >= '0' and <= '9' ? c - '0' : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;
    }

    /// <summary>Decodes a piece's bytes strictly; invalid UTF-8 is a format error naming the offending byte's offset.</summary>
    internal static string DecodePiece(ReadOnlySpan<byte> bytes, long offset, string source, string what)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            long at = offset + Math.Max(0, e.Index);
            throw new ModelFormatException(source, $"{what} is not valid UTF-8 (byte 0x{(e.BytesUnknown is { Length: > 0 } u ? u[0] : 0):X2})", at, inner: e);
        }
    }

    internal static string Printable(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s.Length > 40 ? s[..40] : s)
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString());
        return sb.ToString();
    }
}
