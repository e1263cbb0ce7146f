using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// What a model file costs per token, from its tensor types: the bytes generation must read for every token (every
/// matrix once, plus the one embedding row it looks up; the norms are negligible) and the FLOPs of a prompt.
/// </summary>
internal sealed record ModelStats(LlamaConfig Config, long SizeBytes, long Parameters, long WeightBytesPerToken, long LayerMatrixParameters, long HeadParameters)
{
    /// <summary>Reads the file's tensor table (mapped: no weight page is touched).</summary>
    public static ModelStats Of(string path)
    {
        using var model = ModelLoader.Load(path, new ModelLoadOptions { MemoryMap = true });
        var c = model.Config;
        long size = 0, parameters = 0, perToken = 0, layerMatrices = 0, head = 0;
        foreach (var (spec, w) in model.Weights.Tensors(c))
        {
            size += w.ByteCount;
            parameters += w.ElementCount;
            if (spec.Role == TensorRole.TokenEmbedding) perToken += w.RowByteCount;
            else if (spec.IsMatrix) perToken += w.ByteCount;
            if (spec.IsMatrix && spec.Layer >= 0) layerMatrices += w.ElementCount;
            if (spec.Role == TensorRole.Output || (spec.Role == TensorRole.TokenEmbedding && model.Weights.Output is null)) head += w.ElementCount;
        }
        return new ModelStats(c, size, parameters, perToken, layerMatrices, head);
    }

    /// <summary>
    /// FLOPs of a prompt of <paramref name="tokens"/> tokens after <paramref name="depth"/> cached ones: 2 per
    /// multiply-add of every layer matrix and token, the head once (only the last token's logits are asked for), and
    /// causal attention: QKᵀ and the weighted sum of V, 2·2·heads·head_dim FLOPs per (query, key) pair.
    /// </summary>
    public double PromptFlops(int tokens, int depth)
    {
        double pairs = (double)tokens * depth + tokens * (tokens + 1.0) / 2;
        return 2.0 * LayerMatrixParameters * tokens + 2.0 * HeadParameters + 4.0 * Config.NumLayers * Config.NumHeads * Config.HeadDim * pairs;
    }
}
