namespace Elongate.Model;

/// <summary>
/// One tensor of the Llama layout: its role, layer (−1 for model-wide tensors), GGUF name and shape in PyTorch order
/// ([out, in] for matrices). Produced by <see cref="LlamaTensorSchema"/>, the one place the layout is spelled out.
/// </summary>
public sealed record TensorSpec(TensorRole Role, int Layer, string Name, long[] Shape)
{
    /// <summary>Elements in the tensor.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>ggml's dimension order (ne[0] = the row length), as GGUF tensor infos store it.</summary>
    public long[] GgmlShape => Shape.Reverse().ToArray();

    /// <summary>Whether the tensor is a matrix (the ones that are quantized) rather than a norm gain.</summary>
    public bool IsMatrix => Shape.Length == 2;

    /// <summary>The name transformers' LlamaForCausalLM gives this tensor in its state dict.</summary>
    public string HfName => Role switch
    {
        TensorRole.TokenEmbedding => "model.embed_tokens.weight",
        TensorRole.FinalNorm => "model.norm.weight",
        TensorRole.Output => "lm_head.weight",
        TensorRole.AttnNorm => $"model.layers.{Layer}.input_layernorm.weight",
        TensorRole.Wq => $"model.layers.{Layer}.self_attn.q_proj.weight",
        TensorRole.Wk => $"model.layers.{Layer}.self_attn.k_proj.weight",
        TensorRole.Wv => $"model.layers.{Layer}.self_attn.v_proj.weight",
        TensorRole.Wo => $"model.layers.{Layer}.self_attn.o_proj.weight",
        TensorRole.FfnNorm => $"model.layers.{Layer}.post_attention_layernorm.weight",
        TensorRole.WGate => $"model.layers.{Layer}.mlp.gate_proj.weight",
        TensorRole.WUp => $"model.layers.{Layer}.mlp.up_proj.weight",
        TensorRole.WDown => $"model.layers.{Layer}.mlp.down_proj.weight",
        _ => throw new ArgumentOutOfRangeException(nameof(Role)),
    };

    /// <summary>Shape as text, e.g. [4096, 11008].</summary>
    public string ShapeString => "[" + string.Join(", ", Shape) + "]";
}
