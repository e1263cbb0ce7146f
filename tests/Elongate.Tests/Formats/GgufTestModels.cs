using static Elongate.Tests.Model.TestWeights;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Tests.Formats;

/// <summary>Small seeded Llama models and GGUF images for the GGUF tests.</summary>
internal static class GgufTestModels
{
    /// <summary>A random Llama model with the given shape; weights ~ U(-1, 1) scaled per tensor, seeded.</summary>
    public static LlamaModel Random(int dim = 8, int hidden = 16, int layers = 1, int heads = 2, int kvHeads = 1, int vocab = 16,
        bool tied = false, int seed = 1, bool withVocab = true, float ropeTheta = 10000f)
    {
        var rng = new Random(seed);
        float[] R(long n, float scale = 1f)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            return a;
        }
        var config = new LlamaConfig
        {
            HiddenSize = dim, IntermediateSize = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
            VocabSize = vocab, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5f, RopeTheta = ropeTheta, TieWordEmbeddings = tied,
        };
        int q = heads * (dim / heads), kv = kvHeads * (dim / heads);
        var layerArr = new LayerWeights[layers];
        for (int l = 0; l < layers; l++)
            layerArr[l] = new LayerWeights
            {
                AttnNorm = W(R(dim)), Wq = W(R((long)q * dim), q, dim), Wk = W(R((long)kv * dim), kv, dim), Wv = W(R((long)kv * dim), kv, dim),
                Wo = W(R((long)dim * q), dim, q), FfnNorm = W(R(dim)), WGate = W(R((long)hidden * dim), hidden, dim),
                WDown = W(R((long)dim * hidden), dim, hidden), WUp = W(R((long)hidden * dim, 0.01f), hidden, dim),
            };
        var weights = new LlamaWeights
        {
            TokenEmbedding = W(R((long)vocab * dim, 3f), vocab, dim), Layers = layerArr, FinalNorm = W(R(dim)),
            Output = tied ? null : W(R((long)vocab * dim), vocab, dim),
        };
        return new LlamaModel { Config = config, Weights = weights, Vocabulary = withVocab ? Vocabulary(vocab) : null, Source = "test-model" };
    }

    /// <summary>A made-up SentencePiece-style vocabulary: unk, bos, eos, byte-like tokens, then words with descending scores.</summary>
    public static TokenVocabulary Vocabulary(int n)
    {
        var pieces = new string[n];
        var scores = new float[n];
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
        {
            (pieces[i], types[i]) = i switch
            {
                0 => ("<unk>", TokenType.Unknown),
                1 => ("<s>", TokenType.Control),
                2 => ("</s>", TokenType.Control),
                < 6 => ($"<0x{i - 3:X2}>", TokenType.Byte),
                _ => ($"\u2581tok{i}é", TokenType.Normal),
            };
            scores[i] = i < 6 ? 0f : -i * 0.5f;
        }
        return new TokenVocabulary { Pieces = pieces, Scores = scores, Types = types, BosId = 1, EosId = 2, UnkId = 0, AddBos = true, AddEos = false };
    }

    /// <summary>
    /// A vocabulary llama.cpp's SentencePiece loader accepts: unk, bos, eos, all 256 byte tokens (it looks up &lt;0x0A&gt;
    /// at load), then <paramref name="words"/> word pieces with descending scores.
    /// </summary>
    public static TokenVocabulary ByteVocabulary(int words)
    {
        int n = 3 + 256 + words;
        var pieces = new string[n];
        var scores = new float[n];
        var types = new TokenType[n];
        pieces[0] = "<unk>"; types[0] = TokenType.Unknown;
        pieces[1] = "<s>"; types[1] = TokenType.Control;
        pieces[2] = "</s>"; types[2] = TokenType.Control;
        for (int b = 0; b < 256; b++) { pieces[3 + b] = $"<0x{b:X2}>"; types[3 + b] = TokenType.Byte; }
        string[] stems = ["\u2581the", "\u2581a", "\u2581once", "\u2581upon", "\u2581time", "\u2581there", "\u2581was", "e", "t", "a", "o", "n", "\u2581"];
        for (int i = 0; i < words; i++)
        {
            int id = 259 + i;
            pieces[id] = i < stems.Length ? stems[i] : $"\u2581w{i}";
            types[id] = TokenType.Normal;
            scores[id] = -i;
        }
        return new TokenVocabulary { Pieces = pieces, Scores = scores, Types = types };
    }

    /// <summary>The GGUF image of <see cref="Random"/>'s default model.</summary>
    public static byte[] SmallModelBytes(GgufOutputType type = GgufOutputType.F32) =>
        GgufModelWriter.Build(Random(), type).ToArray();

    /// <summary>Replaces the only occurrence of <paramref name="find"/> in <paramref name="bytes"/> with <paramref name="replace"/> (same length).</summary>
    public static byte[] Patch(byte[] bytes, byte[] find, byte[] replace)
    {
        Assert.Equal(find.Length, replace.Length);
        int at = bytes.AsSpan().IndexOf(find);
        Assert.True(at >= 0, "pattern not found");
        Assert.True(bytes.AsSpan(at + 1).IndexOf(find) < 0, "pattern is not unique");
        var copy = (byte[])bytes.Clone();
        replace.CopyTo(copy, at);
        return copy;
    }

    /// <summary>
    /// Matrices scaled by 1/√(row length), as trained models roughly are: with U(−1, 1) entries every projection grows
    /// the activations by ~√n, the 8-layer network becomes chaotic, and any rounding (llama.cpp's 8-bit activations)
    /// is amplified into logit differences that say nothing about the file.
    /// </summary>
    public static LlamaWeights WellConditioned(LlamaWeights w, int rowLength)
    {
        float s = 1f / MathF.Sqrt(rowLength);
        void Scale(Weight w) { var a = w.ManagedFloats!; for (int i = 0; i < a.Length; i++) a[i] *= s; }
        foreach (var l in w.Layers)
            foreach (var m in new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.WGate, l.WDown, l.WUp }) Scale(m);
        if (w.Output is not null) Scale(w.Output);
        return w;
    }
}
