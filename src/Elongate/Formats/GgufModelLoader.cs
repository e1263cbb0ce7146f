using Elongate.Model;
using Elongate.Rope;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Loads a Llama-architecture GGUF (as written by llama.cpp's convert_hf_to_gguf.py or convert-llama2c-to-ggml, or by
/// <see cref="GgufModelWriter"/>) into an fp32 <see cref="LlamaModel"/>. Every tensor's shape is checked against the
/// hyper-parameters before any data is converted, so a file whose metadata and tensors disagree is rejected with both
/// shapes named. GGUF already stores Q and K in the adjacent-pair RoPE layout, so no permutation is applied.
/// </summary>
public static class GgufModelLoader
{
    /// <summary>Opens, validates and dequantizes the model at <paramref name="path"/>.</summary>
    public static LlamaModel Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Load(file);
    }

    /// <summary>Validates and dequantizes an already parsed file.</summary>
    public static LlamaModel Load(GgufFile file)
    {
        var config = ReadConfig(file);
        // Expected tensors are checked one by one as they are enumerated, so a corrupt block_count of 2^31 stops at the
        // first missing tensor instead of building a billion-entry table first.
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, shape) in EnumerateExpectedShapes(config))
        {
            var t = file.GetTensor(name);
            expected[name] = shape;
            if (!SameShape(t.Dimensions, shape))
                throw new ModelFormatException(file.Source,
                    $"shape {t.ShapeString} (ggml order) disagrees with the config, which implies [{string.Join(", ", shape)}]", t.HeaderOffset, name);
        }
        foreach (var t in file.Tensors)
            if (!expected.ContainsKey(t.Name) && !RopeTensorNames.Contains(t.Name))
                throw new ModelFormatException(file.Source, "unexpected tensor for a Llama model", t.HeaderOffset, t.Name);

        float[] Get(string name) => file.DequantizeTensor(file.GetTensor(name));
        var layers = new LayerWeights[config.NumLayers];
        for (int l = 0; l < layers.Length; l++)
        {
            string p = $"blk.{l}.";
            layers[l] = new LayerWeights
            {
                AttnNorm = Get(p + "attn_norm.weight"),
                Wq = Get(p + "attn_q.weight"),
                Wk = Get(p + "attn_k.weight"),
                Wv = Get(p + "attn_v.weight"),
                Wo = Get(p + "attn_output.weight"),
                FfnNorm = Get(p + "ffn_norm.weight"),
                WGate = Get(p + "ffn_gate.weight"),
                WDown = Get(p + "ffn_down.weight"),
                WUp = Get(p + "ffn_up.weight"),
            };
        }
        var weights = new LlamaWeights
        {
            TokenEmbedding = Get("token_embd.weight"),
            Layers = layers,
            FinalNorm = Get("output_norm.weight"),
            Output = config.TieWordEmbeddings ? null : Get("output.weight"),
        };
        weights.Validate(config, file.Source);
        var vocab = GgufVocabularyReader.HasSentencePieceVocabulary(file) ? GgufVocabularyReader.Read(file) : null;
        if (vocab is not null && vocab.Count != config.VocabSize)
            throw new ModelFormatException(file.Source, $"vocabulary has {vocab.Count} tokens, the model {config.VocabSize}", key: "tokenizer.ggml.tokens");
        return new LlamaModel { Config = config, Weights = weights, Vocabulary = vocab, Source = file.Source };
    }

    /// <summary>
    /// Hyper-parameters from the {arch}.* keys. head_count_kv defaults to head_count and rope.freq_base to 10000
    /// (llama.cpp's defaults); the vocabulary size comes from llama.vocab_size, else the token list, else token_embd.
    /// A missing output.weight means the head is tied to the embeddings.
    /// </summary>
    public static LlamaConfig ReadConfig(GgufFile file)
    {
        var arch = file.GetString("general.architecture");
        if (arch != "llama")
            throw new ModelFormatException(file.Source, $"architecture '{arch}' is not supported; only 'llama' is", key: "general.architecture");
        int Int(string key)
        {
            long v = file.GetInteger(key);
            if (v <= 0 || v > int.MaxValue) throw new ModelFormatException(file.Source, $"value {v} is out of range", key: key);
            return (int)v;
        }
        int? OptInt(string key) => file.ContainsKey(key) ? Int(key) : null;
        float Real(string key, float fallback) => file.ContainsKey(key) ? (float)file.GetReal(key) : fallback;

        int heads = Int("llama.attention.head_count");
        int vocab = OptInt("llama.vocab_size")
            ?? (file.ContainsKey("tokenizer.ggml.tokens") ? file.GetArray("tokenizer.ggml.tokens").Count : 0);
        if (vocab == 0)
        {
            var emb = file.GetTensor("token_embd.weight");
            if (emb.Dimensions.Length < 2 || emb.Dimensions[1] > int.MaxValue)
                throw new ModelFormatException(file.Source, $"cannot infer the vocabulary size from shape {emb.ShapeString}", emb.HeaderOffset, emb.Name);
            vocab = (int)emb.Dimensions[1];
        }
        int bos = 1, eos = 2;
        if (file.ContainsKey("tokenizer.ggml.bos_token_id")) bos = ClampId(file, "tokenizer.ggml.bos_token_id");
        if (file.ContainsKey("tokenizer.ggml.eos_token_id")) eos = ClampId(file, "tokenizer.ggml.eos_token_id");
        var config = new LlamaConfig
        {
            HiddenSize = Int("llama.embedding_length"),
            RopeScaling = ReadRopeScaling(file, Int("llama.context_length")),
            IntermediateSize = Int("llama.feed_forward_length"),
            NumLayers = Int("llama.block_count"),
            NumHeads = heads,
            NumKvHeads = OptInt("llama.attention.head_count_kv") ?? heads,
            VocabSize = vocab,
            MaxPositionEmbeddings = Int("llama.context_length"),
            RmsNormEps = (float)file.GetReal("llama.attention.layer_norm_rms_epsilon"),
            RopeTheta = Real("llama.rope.freq_base", 10000f),
            // Canonical form: null means the whole head rotates, so files that state it and files that don't compare equal.
            RopeDimensionCount = OptInt("llama.rope.dimension_count") is { } rd && rd != Int("llama.embedding_length") / heads ? rd : null,
            TieWordEmbeddings = !file.TensorsByName.ContainsKey("output.weight"),
            BosTokenId = bos,
            EosTokenId = eos,
        };
        config.Validate(file.Source);
        return config;
    }

    /// <summary>Tensors that carry RoPE scaling rather than weights (Llama 3.1's rope_freqs, Phi-3's longrope factors).</summary>
    private static readonly HashSet<string> RopeTensorNames =
        [RopeScaling.RopeFreqsTensor, RopeScaling.RopeFactorsLongTensor, RopeScaling.RopeFactorsShortTensor];

    /// <summary>RoPE scaling from the llama.rope.* keys and rope tensors; null for plain RoPE.</summary>
    private static RopeScaling? ReadRopeScaling(GgufFile file, int contextLength)
    {
        float[]? Tensor(string name)
        {
            if (!file.TensorsByName.TryGetValue(name, out var t)) return null;
            if (t.Dimensions.Length != 1 || t.Dimensions[0] > 1 << 20)
                throw new ModelFormatException(file.Source, $"RoPE tensor must be one-dimensional, got {t.ShapeString}", t.HeaderOffset, name);
            return file.DequantizeTensor(t);
        }
        object? Lookup(string key)
        {
            if (!file.TryGetValue(key, out var v)) return null;
            return v is GgufArray { ElementType: GgufValueType.Float32 } a ? a.As<float>() : v;
        }
        var settings = RopeScaling.FromGgufMetadata("llama", Lookup, Tensor(RopeScaling.RopeFreqsTensor),
            Tensor(RopeScaling.RopeFactorsLongTensor), Tensor(RopeScaling.RopeFactorsShortTensor), file.Source, contextLength);
        return settings.Scaling == RopeScaling.None ? null : settings.Scaling;
    }

    private static int ClampId(GgufFile file, string key)
    {
        long v = file.GetInteger(key);
        if (v < 0 || v > int.MaxValue) throw new ModelFormatException(file.Source, $"token id {v} is out of range", key: key);
        return (int)v;
    }

    /// <summary>Every tensor a Llama GGUF must hold, with its ggml-order shape (ne[0] = input width).</summary>
    public static Dictionary<string, long[]> ExpectedShapes(LlamaConfig c) =>
        EnumerateExpectedShapes(c).ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal);

    private static IEnumerable<(string Name, long[] Shape)> EnumerateExpectedShapes(LlamaConfig c)
    {
        long dim = c.HiddenSize, hid = c.IntermediateSize, q = (long)c.NumHeads * c.HeadDim, kv = c.KvDim, v = c.VocabSize;
        yield return ("token_embd.weight", [dim, v]);
        yield return ("output_norm.weight", [dim]);
        if (!c.TieWordEmbeddings) yield return ("output.weight", [dim, v]);
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"blk.{l}.";
            yield return (p + "attn_norm.weight", [dim]);
            yield return (p + "attn_q.weight", [dim, q]);
            yield return (p + "attn_k.weight", [dim, kv]);
            yield return (p + "attn_v.weight", [dim, kv]);
            yield return (p + "attn_output.weight", [q, dim]);
            yield return (p + "ffn_norm.weight", [dim]);
            yield return (p + "ffn_gate.weight", [dim, hid]);
            yield return (p + "ffn_up.weight", [dim, hid]);
            yield return (p + "ffn_down.weight", [hid, dim]);
        }
    }

    /// <summary>Equal up to trailing 1s, which ggml drops when it counts dimensions.</summary>
    private static bool SameShape(long[] a, long[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        for (int i = 0; i < n; i++)
            if ((i < a.Length ? a[i] : 1) != (i < b.Length ? b[i] : 1)) return false;
        return true;
    }
}
