namespace Elongate.Common;

/// <summary>
/// GGML tensor element types this library can read, numbered exactly as ggml's <c>enum ggml_type</c> so the value
/// written in a GGUF tensor info maps one to one. Types not listed (Q2_K, Q3_K, the IQ family, …) are rejected at
/// load time, naming the tensor, rather than misread.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}
