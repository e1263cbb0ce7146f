namespace Elongate.Formats;

/// <summary>
/// Weight encoding of a GGUF written by <see cref="GgufModelWriter"/>: convert_hf_to_gguf.py's --outtype for the float
/// types and Q8_0, llama-quantize's file types (per-tensor mixtures chosen by <see cref="QuantizationMix"/>) for the rest.
/// </summary>
public enum GgufOutputType
{
    /// <summary>Everything fp32 (LLAMA_FTYPE_ALL_F32 = 0); lossless.</summary>
    F32,
    /// <summary>Matrices fp16, norms fp32 (LLAMA_FTYPE_MOSTLY_F16 = 1).</summary>
    F16,
    /// <summary>Matrices bfloat16, norms fp32 (LLAMA_FTYPE_MOSTLY_BF16 = 32).</summary>
    BF16,
    /// <summary>Matrices Q8_0, norms fp32, rows not a multiple of 32 in fp16 (LLAMA_FTYPE_MOSTLY_Q8_0 = 7).</summary>
    Q8_0,
    /// <summary>llama-quantize Q4_0 (LLAMA_FTYPE_MOSTLY_Q4_0 = 2): matrices Q4_0, output head Q6_K.</summary>
    Q4_0,
    /// <summary>llama-quantize Q4_1 (LLAMA_FTYPE_MOSTLY_Q4_1 = 3): matrices Q4_1, output head Q6_K.</summary>
    Q4_1,
    /// <summary>llama-quantize Q5_0 (LLAMA_FTYPE_MOSTLY_Q5_0 = 8): matrices Q5_0, output head Q6_K.</summary>
    Q5_0,
    /// <summary>llama-quantize Q5_1 (LLAMA_FTYPE_MOSTLY_Q5_1 = 9): matrices Q5_1, output head Q6_K.</summary>
    Q5_1,
    /// <summary>llama-quantize Q4_K_S (LLAMA_FTYPE_MOSTLY_Q4_K_S = 14): Q4_K, first attn_v and ffn_down layers Q5_K.</summary>
    Q4_K_S,
    /// <summary>llama-quantize Q4_K_M (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15): Q4_K, about half of attn_v/ffn_down Q6_K.</summary>
    Q4_K_M,
    /// <summary>llama-quantize Q5_K_S (LLAMA_FTYPE_MOSTLY_Q5_K_S = 16): Q5_K, output head Q6_K.</summary>
    Q5_K_S,
    /// <summary>llama-quantize Q5_K_M (LLAMA_FTYPE_MOSTLY_Q5_K_M = 17): Q5_K, about half of attn_v/ffn_down Q6_K.</summary>
    Q5_K_M,
    /// <summary>llama-quantize Q6_K (LLAMA_FTYPE_MOSTLY_Q6_K = 18): everything Q6_K.</summary>
    Q6_K,
}
