namespace Elongate.Model;

/// <summary>What a tensor of a Llama model is for; with a layer index it names every tensor in every format.</summary>
public enum TensorRole
{
    /// <summary>token_embd, [vocab, dim].</summary>
    TokenEmbedding,
    /// <summary>RMSNorm gain before attention, [dim].</summary>
    AttnNorm,
    /// <summary>Query projection, [n_heads·head_dim, dim].</summary>
    Wq,
    /// <summary>Key projection, [n_kv_heads·head_dim, dim].</summary>
    Wk,
    /// <summary>Value projection, [n_kv_heads·head_dim, dim].</summary>
    Wv,
    /// <summary>Attention output projection, [dim, n_heads·head_dim].</summary>
    Wo,
    /// <summary>RMSNorm gain before the MLP, [dim].</summary>
    FfnNorm,
    /// <summary>SwiGLU gate (w1), [hidden, dim].</summary>
    WGate,
    /// <summary>SwiGLU down projection (w2), [dim, hidden].</summary>
    WDown,
    /// <summary>SwiGLU up projection (w3), [hidden, dim].</summary>
    WUp,
    /// <summary>Final RMSNorm gain, [dim].</summary>
    FinalNorm,
    /// <summary>Output head, [vocab, dim]; absent when tied to the embedding.</summary>
    Output,
}
