namespace Elongate.Formats;

/// <summary>Tensor names transformers' LlamaForCausalLM uses in its state dict.</summary>
public static class HfTensorNames
{
    public const string TokenEmbedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Output = "lm_head.weight";

    public static string AttnNorm(int layer) => $"model.layers.{layer}.input_layernorm.weight";
    public static string Wq(int layer) => $"model.layers.{layer}.self_attn.q_proj.weight";
    public static string Wk(int layer) => $"model.layers.{layer}.self_attn.k_proj.weight";
    public static string Wv(int layer) => $"model.layers.{layer}.self_attn.v_proj.weight";
    public static string Wo(int layer) => $"model.layers.{layer}.self_attn.o_proj.weight";
    public static string FfnNorm(int layer) => $"model.layers.{layer}.post_attention_layernorm.weight";
    public static string WGate(int layer) => $"model.layers.{layer}.mlp.gate_proj.weight";
    public static string WUp(int layer) => $"model.layers.{layer}.mlp.up_proj.weight";
    public static string WDown(int layer) => $"model.layers.{layer}.mlp.down_proj.weight";

    /// <summary>Buffers older transformers versions saved that hold no learned weights (RoPE inverse frequencies).</summary>
    public static bool IsIgnorable(string name) => name.EndsWith(".self_attn.rotary_emb.inv_freq", StringComparison.Ordinal);
}
