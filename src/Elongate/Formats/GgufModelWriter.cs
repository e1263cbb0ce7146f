using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Formats;

/// <summary>
/// Writes a <see cref="LlamaModel"/> as a GGUF that llama.cpp loads, with the key names, key types and tensor names of
/// llama.cpp's convert_hf_to_gguf.py for LlamaForCausalLM. Type rules follow that script: 1-D tensors (the RMSNorm
/// gains) stay F32; in Q8_0 mode a matrix whose row length is not a multiple of 32 (e.g. stories260K's 172-wide
/// ffn_down) falls back to F16, as gguf-py's quantize raises QuantError and the script retries with F16. A tied
/// output head is written by leaving out output.weight, which llama.cpp reads as "use token_embd".
/// </summary>
public static class GgufModelWriter
{
    /// <summary>gguf-py's GGML_QUANT_VERSION, written as general.quantization_version.</summary>
    public const uint QuantizationVersion = 2;

    /// <summary>llama.cpp's LLAMA_FTYPE number for general.file_type.</summary>
    public static uint FileType(GgufOutputType type) => type switch
    {
        GgufOutputType.F32 => 0,
        GgufOutputType.F16 => 1,
        GgufOutputType.Q8_0 => 7,
        GgufOutputType.BF16 => 32,
        GgufOutputType.Q4_0 => 2,
        GgufOutputType.Q4_1 => 3,
        GgufOutputType.Q5_0 => 8,
        GgufOutputType.Q5_1 => 9,
        GgufOutputType.Q4_K_S => 14,
        GgufOutputType.Q4_K_M => 15,
        GgufOutputType.Q5_K_S => 16,
        GgufOutputType.Q5_K_M => 17,
        GgufOutputType.Q6_K => 18,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// The GGML type a tensor of shape <paramref name="ne"/> (ggml order) gets under <paramref name="type"/>. The
    /// llama-quantize mixtures depend on the tensor's name and layer too: see <see cref="QuantizationMix.TensorType"/>.
    /// </summary>
    public static GgmlType TensorType(GgufOutputType type, long[] ne)
    {
        if (ne.Length <= 1) return GgmlType.F32;
        return type switch
        {
            _ when QuantizationMix.IsMixture(type) =>
                throw new ArgumentException($"{type} picks types per tensor name: use QuantizationMix.TensorType", nameof(type)),
            GgufOutputType.F32 => GgmlType.F32,
            GgufOutputType.F16 => GgmlType.F16,
            GgufOutputType.BF16 => GgmlType.BF16,
            GgufOutputType.Q8_0 => ne[0] % GgmlTypes.QK == 0 ? GgmlType.Q8_0 : GgmlType.F16,
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    /// <summary>
    /// Builds the file in memory. <paramref name="vocabulary"/> defaults to the model's own; <paramref name="extraMetadata"/>
    /// entries are added after the standard keys and replace a standard key of the same name (e.g. a new
    /// llama.rope.freq_base or llama.rope.scaling.* keys after context extension).
    /// </summary>
    public static GgufWriter Build(LlamaModel model, GgufOutputType type, TokenVocabulary? vocabulary = null,
        IReadOnlyDictionary<string, object>? extraMetadata = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        c.Validate(model.Source);
        model.Weights.Validate(c, model.Source);
        // The schema follows the weights: a model without an output head is written tied, whatever its config says.
        var layout = c with { TieWordEmbeddings = model.Weights.Output is null };
        return Build(layout, type, vocabulary ?? model.Vocabulary, extraMetadata, name ?? Path.GetFileNameWithoutExtension(model.Source),
            (spec, target) =>
            {
                var weight = model.Weights[spec]!;
                return weight.Type == target
                    ? weight.Bytes.ToArray() // already in the target type: copied as stored
                    : GgmlQuants.Quantize(target, weight.ManagedFloats ?? weight.Dequantize());
            });
    }

    /// <summary>
    /// Builds a file for <paramref name="config"/> whose tensors come from <paramref name="values"/>, called once per
    /// tensor of <see cref="LlamaTensorSchema"/> only while the file is written: each tensor's fp32 values are made,
    /// encoded as <paramref name="type"/> picks for that tensor, written and dropped, so a model far larger than memory
    /// in fp32 (a random-weight 7B benchmark model) is never held whole. The array must hold the spec's
    /// <see cref="TensorSpec.ElementCount"/> values, row-major in PyTorch order. Metadata and per-tensor types are
    /// those of <see cref="Build(LlamaModel, GgufOutputType, TokenVocabulary?, IReadOnlyDictionary{string, object}?, string?)"/>.
    /// </summary>
    public static GgufWriter Build(LlamaConfig config, GgufOutputType type, TokenVocabulary? vocabulary, Func<TensorSpec, float[]> values,
        IReadOnlyDictionary<string, object>? extraMetadata = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(values);
        string source = name ?? "generated model";
        config.Validate(source);
        return Build(config, type, vocabulary, extraMetadata, source, (spec, target) =>
        {
            var v = values(spec);
            if (v.LongLength != spec.ElementCount)
                throw new InvalidOperationException($"{spec.Name}: the value source gave {v.LongLength} values for shape {spec.ShapeString}");
            return GgmlQuants.Quantize(target, v);
        });
    }

    /// <summary>
    /// The one path every overload takes: the metadata of <paramref name="c"/> (whose <see cref="LlamaConfig.TieWordEmbeddings"/>
    /// decides whether output.weight is written), the type of each tensor, and <paramref name="encode"/>(spec, type)
    /// registered to run lazily while the file is written.
    /// </summary>
    private static GgufWriter Build(LlamaConfig c, GgufOutputType type, TokenVocabulary? vocab,
        IReadOnlyDictionary<string, object>? extraMetadata, string name, Func<TensorSpec, GgmlType, byte[]> encode)
    {
        if (vocab is not null && vocab.Count != c.VocabSize)
            throw new ArgumentException($"vocabulary has {vocab.Count} tokens, the model {c.VocabSize}", nameof(vocab));

        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", "llama"),
            new("general.type", "model"),
            new("general.name", name),
            new("llama.block_count", (uint)c.NumLayers),
            new("llama.context_length", (uint)c.MaxPositionEmbeddings),
            new("llama.embedding_length", (uint)c.HiddenSize),
            new("llama.feed_forward_length", (uint)c.IntermediateSize),
            new("llama.attention.head_count", (uint)c.NumHeads),
            new("llama.attention.head_count_kv", (uint)c.NumKvHeads),
            new("llama.rope.freq_base", c.RopeTheta),
            new("llama.attention.layer_norm_rms_epsilon", c.RmsNormEps),
            new("general.file_type", FileType(type)),
            new("llama.vocab_size", (uint)c.VocabSize),
            new("llama.rope.dimension_count", (uint)c.RotaryDim),
        };
        if (vocab is not null) meta.AddRange(GgufVocabularyWriter.Metadata(vocab));
        meta.Add(new("general.quantization_version", QuantizationVersion));
        if (extraMetadata is not null)
            foreach (var (k, v) in extraMetadata)
            {
                int i = meta.FindIndex(e => e.Key == k);
                if (i >= 0) meta[i] = new(k, v); else meta.Add(new(k, v));
            }

        var w = new GgufWriter();
        foreach (var (k, v) in meta) w.Add(k, v);

        bool mixture = QuantizationMix.IsMixture(type);
        foreach (var spec in LlamaTensorSchema.Enumerate(c))
        {
            var ne = spec.GgmlShape;
            // llama-quantize's per-tensor choice for the k/legacy-quant file types; one type for the float types and Q8_0.
            var target = mixture
                ? QuantizationMix.TensorType(type, spec.Name, ne, c.NumLayers, !c.TieWordEmbeddings, c.NumHeads, c.NumKvHeads)
                : TensorType(type, ne);
            // Encoded only while the file is written, one tensor at a time (a mapped 7B model is never held as fp32).
            w.AddTensor(spec.Name, ne, target, () => encode(spec, target));
        }
        return w;
    }

    /// <summary>Writes the model to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Save(string path, LlamaModel model, GgufOutputType type, TokenVocabulary? vocabulary = null,
        IReadOnlyDictionary<string, object>? extraMetadata = null, string? name = null) =>
        Build(model, type, vocabulary, extraMetadata, name).Save(path);

    /// <summary>Writes a model made tensor by tensor from <paramref name="values"/> (see the matching <c>Build</c>) to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Save(string path, LlamaConfig config, GgufOutputType type, TokenVocabulary? vocabulary, Func<TensorSpec, float[]> values,
        IReadOnlyDictionary<string, object>? extraMetadata = null, string? name = null) =>
        Build(config, type, vocabulary, values, extraMetadata, name).Save(path);
}
