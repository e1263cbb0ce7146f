using Elongate.Common;

namespace Elongate.Model;

/// <summary>
/// All parameters of a Llama model, row-major, adjacent-pair RoPE layout, each tensor in its stored type (F32 for
/// models built or trained in memory; F16/BF16/Q8_0/Q4_0/Q4_K/… as read from a file, kept quantized).
/// </summary>
public sealed class LlamaWeights
{
    /// <summary>Token embedding table, [vocab, dim].</summary>
    public required Weight TokenEmbedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    /// <summary>Final RMSNorm gain, [dim].</summary>
    public required Weight FinalNorm { get; init; }
    /// <summary>Output head, [vocab, dim]; null when tied to <see cref="TokenEmbedding"/>.</summary>
    public Weight? Output { get; init; }

    /// <summary>The matrix that maps the final hidden state to logits.</summary>
    public Weight Classifier => Output ?? TokenEmbedding;

    /// <summary>The weight <paramref name="spec"/> describes (null only for an absent tied output head).</summary>
    public Weight? this[TensorSpec spec] => spec.Role switch
    {
        TensorRole.TokenEmbedding => TokenEmbedding,
        TensorRole.FinalNorm => FinalNorm,
        TensorRole.Output => Output,
        _ => Layers[spec.Layer][spec.Role],
    };

    /// <summary>Assembles the weights of <paramref name="config"/> from one factory call per tensor of the schema.</summary>
    public static LlamaWeights Build(LlamaConfig config, Func<TensorSpec, Weight> make)
    {
        var made = new Dictionary<(TensorRole, int), Weight>();
        foreach (var spec in LlamaTensorSchema.Enumerate(config)) made[(spec.Role, spec.Layer)] = make(spec);
        return new LlamaWeights
        {
            TokenEmbedding = made[(TensorRole.TokenEmbedding, -1)],
            Layers = Enumerable.Range(0, config.NumLayers).Select(l => new LayerWeights
            {
                AttnNorm = made[(TensorRole.AttnNorm, l)], Wq = made[(TensorRole.Wq, l)], Wk = made[(TensorRole.Wk, l)],
                Wv = made[(TensorRole.Wv, l)], Wo = made[(TensorRole.Wo, l)], FfnNorm = made[(TensorRole.FfnNorm, l)],
                WGate = made[(TensorRole.WGate, l)], WDown = made[(TensorRole.WDown, l)], WUp = made[(TensorRole.WUp, l)],
            }).ToArray(),
            FinalNorm = made[(TensorRole.FinalNorm, -1)],
            Output = made.GetValueOrDefault((TensorRole.Output, -1)),
        };
    }

    /// <summary>F32 weights from one array per tensor (not copied), named and shaped by the schema.</summary>
    public static LlamaWeights FromFloats(LlamaConfig config, Func<TensorSpec, float[]> values) =>
        Build(config, spec => Weight.FromFloats(spec.Name, spec.Shape, values(spec)));

    /// <summary>Every tensor with its spec, in schema order.</summary>
    public IEnumerable<(TensorSpec Spec, Weight Weight)> Tensors(LlamaConfig config) =>
        LlamaTensorSchema.Enumerate(config with { TieWordEmbeddings = Output is null }).Select(s => (s, this[s]!));

    /// <summary>
    /// Checks every tensor's shape against <paramref name="config"/>, naming the tensor that disagrees.
    /// </summary>
    public void Validate(LlamaConfig config, string source)
    {
        if (Layers.Length != config.NumLayers)
            throw new ModelFormatException(source, $"has {Layers.Length} layers, config says {config.NumLayers}", key: "block_count");
        foreach (var spec in LlamaTensorSchema.Enumerate(config with { TieWordEmbeddings = Output is null }))
        {
            var w = this[spec] ?? throw new ModelFormatException(source, "tensor is missing", key: spec.Name);
            if (!w.Shape.AsSpan().SequenceEqual(spec.Shape))
                throw new ModelFormatException(source, $"has shape {w.ShapeString}, config implies {spec.ShapeString}", key: spec.Name);
        }
    }

    /// <summary>Bytes of all stored tensors (a tied head counted once).</summary>
    public long ByteCount(LlamaConfig config) => Tensors(config).Sum(t => t.Weight.ByteCount);
}
