namespace Elongate.Model;

/// <summary>
/// The Llama tensor layout, described once: every loader, writer, the validation and the training model iterate
/// <see cref="Enumerate"/> rather than spelling out the tensors themselves. Order: token_embd, then per layer
/// attn_norm, q, k, v, o, ffn_norm, gate, down, up (llama2.c's and the training model's order), then output_norm and,
/// when the head is not tied, output.
/// </summary>
public static class LlamaTensorSchema
{
    /// <summary>The per-layer roles in layout order.</summary>
    public static readonly TensorRole[] LayerRoles =
        [TensorRole.AttnNorm, TensorRole.Wq, TensorRole.Wk, TensorRole.Wv, TensorRole.Wo,
         TensorRole.FfnNorm, TensorRole.WGate, TensorRole.WDown, TensorRole.WUp];

    /// <summary>Every tensor <paramref name="c"/> implies, in layout order (lazily: a corrupt block count stops at the first mismatch).</summary>
    public static IEnumerable<TensorSpec> Enumerate(LlamaConfig c)
    {
        yield return Spec(c, TensorRole.TokenEmbedding);
        for (int l = 0; l < c.NumLayers; l++)
            foreach (var role in LayerRoles) yield return Spec(c, role, l);
        yield return Spec(c, TensorRole.FinalNorm);
        if (!c.TieWordEmbeddings) yield return Spec(c, TensorRole.Output);
    }

    /// <summary>The spec of one tensor; <paramref name="layer"/> only for per-layer roles.</summary>
    public static TensorSpec Spec(LlamaConfig c, TensorRole role, int layer = -1)
    {
        long dim = c.HiddenSize, hid = c.IntermediateSize, q = (long)c.NumHeads * c.HeadDim, kv = c.KvDim, vocab = c.VocabSize;
        bool perLayer = Array.IndexOf(LayerRoles, role) >= 0;
        if (perLayer != layer >= 0) throw new ArgumentOutOfRangeException(nameof(layer), $"{role} {(perLayer ? "needs" : "takes no")} layer index");
        return role switch
        {
            TensorRole.TokenEmbedding => new(role, -1, "token_embd.weight", [vocab, dim]),
            TensorRole.FinalNorm => new(role, -1, "output_norm.weight", [dim]),
            TensorRole.Output => new(role, -1, "output.weight", [vocab, dim]),
            TensorRole.AttnNorm => new(role, layer, $"blk.{layer}.attn_norm.weight", [dim]),
            TensorRole.Wq => new(role, layer, $"blk.{layer}.attn_q.weight", [q, dim]),
            TensorRole.Wk => new(role, layer, $"blk.{layer}.attn_k.weight", [kv, dim]),
            TensorRole.Wv => new(role, layer, $"blk.{layer}.attn_v.weight", [kv, dim]),
            TensorRole.Wo => new(role, layer, $"blk.{layer}.attn_output.weight", [dim, q]),
            TensorRole.FfnNorm => new(role, layer, $"blk.{layer}.ffn_norm.weight", [dim]),
            TensorRole.WGate => new(role, layer, $"blk.{layer}.ffn_gate.weight", [hid, dim]),
            TensorRole.WDown => new(role, layer, $"blk.{layer}.ffn_down.weight", [dim, hid]),
            TensorRole.WUp => new(role, layer, $"blk.{layer}.ffn_up.weight", [hid, dim]),
            _ => throw new ArgumentOutOfRangeException(nameof(role)),
        };
    }
}
