namespace Elongate.Formats;

/// <summary>Weight encoding of a GGUF written by <see cref="GgufModelWriter"/> (llama.cpp's --outtype).</summary>
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
}
