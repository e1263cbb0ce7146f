using Elongate.Tokenization;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// A made-up SentencePiece vocabulary llama.cpp accepts: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte-fallback
/// pieces, then "▁w259", "▁w260", … with falling scores. The benchmarks feed token ids directly, so the pieces only
/// have to make a valid tokenizer.
/// </summary>
internal static class BenchVocabulary
{
    public static TokenVocabulary Make(int size)
    {
        var pieces = new string[size];
        var types = new TokenType[size];
        var scores = new float[size];
        pieces[0] = "<unk>"; types[0] = TokenType.Unknown;
        pieces[1] = "<s>"; types[1] = TokenType.Control;
        pieces[2] = "</s>"; types[2] = TokenType.Control;
        for (int b = 0; b < 256; b++) { pieces[3 + b] = $"<0x{b:X2}>"; types[3 + b] = TokenType.Byte; }
        for (int i = 259; i < size; i++) { pieces[i] = $"\u2581w{i}"; types[i] = TokenType.Normal; scores[i] = -i; }
        return new TokenVocabulary { Pieces = pieces, Scores = scores, Types = types };
    }

    /// <summary>n ordinary (non-control, non-byte) token ids spread over the vocabulary, the same for both engines.</summary>
    public static int[] Tokens(int n, int vocab, int offset = 0)
    {
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 259 + (int)((long)(i + offset) * 7919 % (vocab - 259));
        return ids;
    }
}
