using System.Buffers.Binary;
using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;

namespace Elongate.Experiments;

/// <summary>
/// A SentencePiece-style BPE vocabulary made in code, so an experiment needs no downloaded tokenizer: &lt;unk&gt;,
/// &lt;s&gt;, &lt;/s&gt;, the 256 byte pieces &lt;0x00&gt;..&lt;0xFF&gt; (byte fallback, so any Unicode text encodes
/// and decodes exactly), every character of the training text as a piece, then merges learned from that text by
/// plain BPE (the most frequent adjacent pair within a "▁word" wins; ties go to the ordinally smaller pair so the
/// result is deterministic). Merge k gets score −k, which makes SentencePiece's encoder (highest score first)
/// replay the merges in the order they were learned.
/// </summary>
public static class BuiltInTokenizer
{
    private const char Space = '\u2581';

    /// <summary>Learns a vocabulary of at most <paramref name="vocabSize"/> pieces (≥ 259 + the text's characters) from <paramref name="texts"/>.</summary>
    public static TokenVocabulary Train(IEnumerable<string> texts, int vocabSize)
    {
        if (vocabSize < 259) throw new ArgumentException($"the built-in tokenizer needs at least 259 pieces (3 special + 256 bytes), got {vocabSize}");
        // Words as SentencePiece sees them: a space becomes ▁ and starts the word after it (dummy prefix on each text).
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            var s = (" " + text).Replace(' ', Space);
            int start = 0;
            for (int i = 1; i <= s.Length; i++)
            {
                if (i < s.Length && s[i] != Space && s[i] != '\n' && s[i - 1] != '\n') continue;
                var w = s[start..i];
                words[w] = words.GetValueOrDefault(w) + 1;
                start = i;
            }
        }
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<TokenType> { TokenType.Unknown, TokenType.Control, TokenType.Control };
        var scores = new List<float> { 0, 0, 0 };
        for (int b = 0; b < 256; b++) { pieces.Add($"<0x{b:X2}>"); types.Add(TokenType.Byte); scores.Add(0); }
        // Characters (not surrogate halves) by frequency, most frequent first, while room remains.
        var chars = new Dictionary<char, long>();
        foreach (var (w, n) in words)
            foreach (var c in w)
                if (!char.IsSurrogate(c)) chars[c] = chars.GetValueOrDefault(c) + n;
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (c, _) in chars.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
        {
            if (pieces.Count >= vocabSize) break;
            pieces.Add(c.ToString()); types.Add(TokenType.Normal); scores.Add(0);
            known.Add(c.ToString());
        }
        // Each word as a list of symbols (characters outside the vocabulary block merges through them).
        var seqs = words.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        int merge = 0;
        while (pieces.Count < vocabSize)
        {
            var pairs = new Dictionary<(string, string), long>();
            foreach (var (sym, n) in seqs)
                for (int i = 1; i < sym.Count; i++)
                {
                    if (!known.Contains(sym[i - 1]) || !known.Contains(sym[i]) || sym[i] == Space.ToString() || sym[i] == "\n" || sym[i - 1] == "\n") continue;
                    var key = (sym[i - 1], sym[i]);
                    pairs[key] = pairs.GetValueOrDefault(key) + n;
                }
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < 2) break;
            var (a, b2) = best.Key;
            string merged = a + b2;
            if (known.Add(merged)) { pieces.Add(merged); types.Add(TokenType.Normal); scores.Add(-(++merge)); }
            foreach (var (sym, _) in seqs)
                for (int i = 1; i < sym.Count; i++)
                    if (sym[i - 1] == a && sym[i] == b2) { sym[i - 1] = merged; sym.RemoveAt(i); }
        }
        return new TokenVocabulary { Pieces = pieces.ToArray(), Scores = scores.ToArray(), Types = types.ToArray(), UnkId = 0, BosId = 1, EosId = 2, AddBos = true };
    }

    /// <summary>The encoder for a vocabulary from <see cref="Train"/> (byte fallback on).</summary>
    public static ITokenizer Create(TokenVocabulary vocabulary) => SentencePieceBpe.FromVocabulary(vocabulary, "<built-in tokenizer>");

    /// <summary>
    /// Writes the vocabulary as a llama2.c tokenizer.bin (the format every Elongate command reads back): ids 1 and 2
    /// as "\n&lt;s&gt;\n" and "\n&lt;/s&gt;\n", ▁ as ' ', as llama2.c's export does. Atomic (temp file + rename).
    /// </summary>
    public static void WriteLlama2cBin(TokenVocabulary vocabulary, string path)
    {
        var texts = vocabulary.Pieces.Select((p, i) => i == vocabulary.BosId ? "\n<s>\n" : i == vocabulary.EosId ? "\n</s>\n" : p.Replace(Space, ' ')).ToArray();
        var encoded = texts.Select(Encoding.UTF8.GetBytes).ToArray();
        AtomicFile.Write(path, s =>
        {
            Span<byte> b4 = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b4, encoded.Max(e => e.Length));
            s.Write(b4);
            for (int i = 0; i < encoded.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(b4, vocabulary.Scores[i]);
                s.Write(b4);
                BinaryPrimitives.WriteInt32LittleEndian(b4, encoded[i].Length);
                s.Write(b4);
                s.Write(encoded[i]);
            }
        });
    }
}
