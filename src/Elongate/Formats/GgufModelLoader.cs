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
    /// <summary>
    /// Opens and validates the model at <paramref name="path"/>. Weights keep their stored types; with
    /// <see cref="ModelLoadOptions.MemoryMap"/> they point into the mapped file, which the returned model owns (dispose it
    /// to unmap); by default every tensor is read into managed memory and the file closed.
    /// </summary>
    public static LlamaModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= ModelLoadOptions.Default;
        var file = GgufFile.Open(path);
        try
        {
            if (options.MemoryMap) return Load(file, mapped: true);
            // Tensor bytes are read with positional reads rather than copied out of the map, so the file's pages are
            // never mapped into this process: its resident set is the model once, not twice.
            using (var handle = File.OpenHandle(path))
            {
                var model = Load(file, mapped: false, handle);
                file.Dispose();
                return model;
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Validates an already parsed file and copies its weights (stored types kept) into managed memory.</summary>
    public static LlamaModel Load(GgufFile file) => Load(file, mapped: false);

    private static unsafe LlamaModel Load(GgufFile file, bool mapped, Microsoft.Win32.SafeHandles.SafeFileHandle? reader = null)
    {
        var config = ReadConfig(file);
        // Expected tensors are checked one by one as they are enumerated, so a corrupt block_count of 2^31 stops at the
        // first missing tensor instead of building a billion-entry table first; shapes and types are all checked before
        // any tensor is read.
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in LlamaTensorSchema.Enumerate(config))
        {
            var t = file.GetTensor(spec.Name);
            expected.Add(spec.Name);
            if (!SameShape(t.Dimensions, spec.GgmlShape))
                throw new ModelFormatException(file.Source,
                    $"shape {t.ShapeString} (ggml order) disagrees with the config, which implies [{string.Join(", ", spec.GgmlShape)}]", t.HeaderOffset, spec.Name);
            if (spec.IsMatrix && !ComputableTypes.Contains(t.Type))
                throw new ModelFormatException(file.Source,
                    $"tensor type {t.Type} cannot be computed on (supported for matrices: {string.Join(", ", ComputableTypes)})", t.HeaderOffset, spec.Name);
        }
        foreach (var t in file.Tensors)
            if (!expected.Contains(t.Name) && !RopeTensorNames.Contains(t.Name))
                throw new ModelFormatException(file.Source, "unexpected tensor for a Llama model", t.HeaderOffset, t.Name);

        Weight Make(TensorSpec spec)
        {
            var t = file.GetTensor(spec.Name);
            if (mapped) return Weight.FromPointer(spec.Name, spec.Shape, t.Type, file.GetTensorPointer(t), file);
            // F32 tensors become float arrays, the form the training model and writers read without conversion.
            if (t.Type == GgmlType.F32 && reader is null) return Weight.FromFloats(spec.Name, spec.Shape, file.DequantizeTensor(t));
            if (t.Type == GgmlType.F32 && BitConverter.IsLittleEndian)
            {
                var floats = GC.AllocateUninitializedArray<float>(checked((int)(t.ByteSize / 4)), pinned: true);
                ReadExactly(reader!, System.Runtime.InteropServices.MemoryMarshal.AsBytes(floats.AsSpan()), t, file.Source);
                return Weight.FromFloats(spec.Name, spec.Shape, floats);
            }
            var bytes = GC.AllocateUninitializedArray<byte>(checked((int)t.ByteSize), pinned: true);
            if (reader is null) new ReadOnlySpan<byte>(file.GetTensorPointer(t), bytes.Length).CopyTo(bytes);
            else ReadExactly(reader, bytes, t, file.Source);
            return Weight.FromBytes(spec.Name, spec.Shape, t.Type, bytes);
        }
        var weights = LlamaWeights.Build(config, Make);
        weights.Validate(config, file.Source);
        var vocab = GgufVocabularyReader.HasVocabulary(file) ? GgufVocabularyReader.Read(file) : null;
        if (vocab is not null && vocab.Count != config.VocabSize)
            throw new ModelFormatException(file.Source, $"vocabulary has {vocab.Count} tokens, the model {config.VocabSize}", key: "tokenizer.ggml.tokens");
        return new LlamaModel { Config = config, Weights = weights, Vocabulary = vocab, Source = file.Source, Storage = mapped ? file : null };
    }

    /// <summary>Reads a tensor's bytes at its file offset; the header parse has already checked they lie inside the file.</summary>
    private static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> destination, GgufTensorInfo t, string source)
    {
        long at = t.FileOffset;
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, at);
            if (n == 0) throw new ModelFormatException(source, $"file ended at byte {at} inside the tensor's data", at, t.Name);
            destination = destination[n..];
            at += n;
        }
    }

    /// <summary>Matrix types the kernels compute on directly (the norm gains may be any readable type: they are tiny and converted once).</summary>
    public static readonly IReadOnlySet<GgmlType> ComputableTypes = new HashSet<GgmlType>
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    };

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
        // SentencePiece's fixed ids when the file is silent; byte-level BPE has no such convention (id 1 is '"').
        bool bpe = file.TryGetValue("tokenizer.ggml.model", out var tm) && tm is GgufVocabularyReader.BytePairModel;
        int bos = bpe ? -1 : 1, eos = bpe ? -1 : 2;
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
        LlamaTensorSchema.Enumerate(c).ToDictionary(e => e.Name, e => e.GgmlShape, StringComparer.Ordinal);

    /// <summary>Equal up to trailing 1s, which ggml drops when it counts dimensions.</summary>
    private static bool SameShape(long[] a, long[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        for (int i = 0; i < n; i++)
            if ((i < a.Length ? a[i] : 1) != (i < b.Length ? b[i] : 1)) return false;
        return true;
    }
}
