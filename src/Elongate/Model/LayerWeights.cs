namespace Elongate.Model;

/// <summary>
/// One transformer block's parameters, fp32, row-major [out, in] like PyTorch's nn.Linear and llama2.c.
/// Query and key rows are in the adjacent-pair RoPE layout (Meta, llama2.c, GGUF); Hugging Face's
/// rotate-half layout is converted at load so one kernel serves every format.
/// </summary>
public sealed class LayerWeights
{
    /// <summary>RMSNorm gain before attention, [dim].</summary>
    public required float[] AttnNorm { get; init; }
    /// <summary>Query projection, [n_heads·head_dim, dim].</summary>
    public required float[] Wq { get; init; }
    /// <summary>Key projection, [n_kv_heads·head_dim, dim].</summary>
    public required float[] Wk { get; init; }
    /// <summary>Value projection, [n_kv_heads·head_dim, dim].</summary>
    public required float[] Wv { get; init; }
    /// <summary>Attention output projection, [dim, n_heads·head_dim].</summary>
    public required float[] Wo { get; init; }
    /// <summary>RMSNorm gain before the MLP, [dim].</summary>
    public required float[] FfnNorm { get; init; }
    /// <summary>SwiGLU gate (w1), [hidden, dim].</summary>
    public required float[] WGate { get; init; }
    /// <summary>SwiGLU down projection (w2), [dim, hidden].</summary>
    public required float[] WDown { get; init; }
    /// <summary>SwiGLU up projection (w3), [hidden, dim].</summary>
    public required float[] WUp { get; init; }
}
