namespace Elongate.Model;

/// <summary>
/// One transformer block's parameters, row-major [out, in] like PyTorch's nn.Linear and llama2.c, each in whatever
/// type it is stored as. Query and key rows are in the adjacent-pair RoPE layout (Meta, llama2.c, GGUF); Hugging
/// Face's rotate-half layout is converted at load so one kernel serves every format.
/// </summary>
public sealed class LayerWeights
{
    /// <summary>RMSNorm gain before attention, [dim].</summary>
    public required Weight AttnNorm { get; init; }
    /// <summary>Query projection, [n_heads·head_dim, dim].</summary>
    public required Weight Wq { get; init; }
    /// <summary>Key projection, [n_kv_heads·head_dim, dim].</summary>
    public required Weight Wk { get; init; }
    /// <summary>Value projection, [n_kv_heads·head_dim, dim].</summary>
    public required Weight Wv { get; init; }
    /// <summary>Attention output projection, [dim, n_heads·head_dim].</summary>
    public required Weight Wo { get; init; }
    /// <summary>RMSNorm gain before the MLP, [dim].</summary>
    public required Weight FfnNorm { get; init; }
    /// <summary>SwiGLU gate (w1), [hidden, dim].</summary>
    public required Weight WGate { get; init; }
    /// <summary>SwiGLU down projection (w2), [dim, hidden].</summary>
    public required Weight WDown { get; init; }
    /// <summary>SwiGLU up projection (w3), [hidden, dim].</summary>
    public required Weight WUp { get; init; }

    /// <summary>The weight that plays <paramref name="role"/> in this block.</summary>
    public Weight this[TensorRole role] => role switch
    {
        TensorRole.AttnNorm => AttnNorm, TensorRole.Wq => Wq, TensorRole.Wk => Wk, TensorRole.Wv => Wv, TensorRole.Wo => Wo,
        TensorRole.FfnNorm => FfnNorm, TensorRole.WGate => WGate, TensorRole.WDown => WDown, TensorRole.WUp => WUp,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "not a per-layer tensor"),
    };
}
