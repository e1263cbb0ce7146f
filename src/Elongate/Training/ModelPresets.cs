using Elongate.Model;

namespace Elongate.Training;

/// <summary>
/// Size presets for `elongate train --preset`. Sizes count the non-embedding parameters (attention, MLP and norms of
/// every layer), which do not depend on the tokenizer; embeddings add vocab·dim (twice when untied).
/// <list type="table">
/// <item><term>1m</term><description>dim 128, 4 layers, 4 heads, ffn 384: 0.85M</description></item>
/// <item><term>5m</term><description>dim 256, 6 layers, 8 heads, ffn 768: 5.1M</description></item>
/// <item><term>20m</term><description>dim 512, 6 layers, 8 heads, ffn 1408: 19.3M</description></item>
/// <item><term>100m</term><description>dim 768, 14 layers, 12 heads, ffn 2048: 99.1M</description></item>
/// </list>
/// Heads are 32 (1m, 5m) or 64 wide; key/value heads equal heads (multi-head attention, as Llama 2 7B); the MLP
/// is about 8/3·dim rounded to a multiple of 64 for 20m and 100m, 3·dim for the two small ones.
/// </summary>
public static class ModelPresets
{
    /// <summary>The preset names, smallest first.</summary>
    public static IReadOnlyList<string> Names { get; } = ["1m", "5m", "20m", "100m"];

    /// <summary>(dim, layers, heads, ffn) of a preset.</summary>
    public static (int Dim, int Layers, int Heads, int Ffn) Dimensions(string preset) => preset.ToLowerInvariant() switch
    {
        "1m" => (128, 4, 4, 384),
        "5m" => (256, 6, 8, 768),
        "20m" => (512, 6, 8, 1408),
        "100m" => (768, 14, 12, 2048),
        _ => throw new ArgumentException($"unknown --preset '{preset}'; known: {string.Join(", ", Names)}"),
    };

    /// <summary>A config for <paramref name="preset"/> with the given vocabulary and context.</summary>
    public static LlamaConfig Create(string preset, int vocabSize, int seqLen, bool tied = false)
    {
        var (dim, layers, heads, ffn) = Dimensions(preset);
        return new LlamaConfig
        {
            HiddenSize = dim, NumLayers = layers, NumHeads = heads, NumKvHeads = heads, IntermediateSize = ffn,
            VocabSize = vocabSize, MaxPositionEmbeddings = seqLen, TieWordEmbeddings = tied,
        };
    }

    /// <summary>Parameters outside the embedding and output matrices.</summary>
    public static long NonEmbeddingParameters(LlamaConfig c)
    {
        long dim = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = c.KvDim;
        long perLayer = 2 * dim + dim * q + 2 * dim * kv + q * dim + 3 * dim * c.IntermediateSize;
        return c.NumLayers * perLayer + dim;
    }
}
