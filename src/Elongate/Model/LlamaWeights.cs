using Elongate.Common;

namespace Elongate.Model;

/// <summary>All parameters of a Llama model in fp32, row-major, adjacent-pair RoPE layout.</summary>
public sealed class LlamaWeights
{
    /// <summary>Token embedding table, [vocab, dim].</summary>
    public required float[] TokenEmbedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    /// <summary>Final RMSNorm gain, [dim].</summary>
    public required float[] FinalNorm { get; init; }
    /// <summary>Output head, [vocab, dim]; null when tied to <see cref="TokenEmbedding"/>.</summary>
    public float[]? Output { get; init; }

    /// <summary>The matrix that maps the final hidden state to logits.</summary>
    public float[] Classifier => Output ?? TokenEmbedding;

    /// <summary>
    /// Checks every array length against <paramref name="config"/>, naming the tensor that disagrees.
    /// </summary>
    public void Validate(LlamaConfig config, string source)
    {
        int dim = config.HiddenSize, hid = config.IntermediateSize, q = config.NumHeads * config.HeadDim, kv = config.KvDim;
        void Check(float[]? a, long expected, string name)
        {
            if (a is null) throw new Common.ModelFormatException(source, "tensor is missing", key: name);
            if (a.LongLength != expected)
                throw new Common.ModelFormatException(source, $"has {a.LongLength} elements, config implies {expected}", key: name);
        }
        Check(TokenEmbedding, (long)config.VocabSize * dim, "token_embd.weight");
        Check(FinalNorm, dim, "output_norm.weight");
        if (Output is not null) Check(Output, (long)config.VocabSize * dim, "output.weight");
        if (Layers.Length != config.NumLayers)
            throw new Common.ModelFormatException(source, $"has {Layers.Length} layers, config says {config.NumLayers}", key: "block_count");
        for (int l = 0; l < Layers.Length; l++)
        {
            var w = Layers[l];
            Check(w.AttnNorm, dim, $"blk.{l}.attn_norm.weight");
            Check(w.Wq, (long)q * dim, $"blk.{l}.attn_q.weight");
            Check(w.Wk, (long)kv * dim, $"blk.{l}.attn_k.weight");
            Check(w.Wv, (long)kv * dim, $"blk.{l}.attn_v.weight");
            Check(w.Wo, (long)dim * q, $"blk.{l}.attn_output.weight");
            Check(w.FfnNorm, dim, $"blk.{l}.ffn_norm.weight");
            Check(w.WGate, (long)hid * dim, $"blk.{l}.ffn_gate.weight");
            Check(w.WDown, (long)dim * hid, $"blk.{l}.ffn_down.weight");
            Check(w.WUp, (long)hid * dim, $"blk.{l}.ffn_up.weight");
        }
    }
}
