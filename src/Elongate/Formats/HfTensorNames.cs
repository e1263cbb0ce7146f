namespace Elongate.Formats;

/// <summary>
/// Hugging Face state-dict names that need handling beyond the schema (<see cref="Model.TensorSpec.HfName"/> gives
/// every weight's name): the head that tied checkpoints may still carry, and buffers that hold no weights.
/// </summary>
public static class HfTensorNames
{
    /// <summary>The output head; ignored (as transformers does) when config.json ties it to the embedding.</summary>
    public const string Output = "lm_head.weight";

    /// <summary>Buffers older transformers versions saved that hold no learned weights (RoPE inverse frequencies).</summary>
    public static bool IsIgnorable(string name) => name.EndsWith(".self_attn.rotary_emb.inv_freq", StringComparison.Ordinal);
}
