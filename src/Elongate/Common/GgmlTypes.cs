namespace Elongate.Common;

/// <summary>
/// The GGML type table: block sizes, bytes per block and names, as ggml-common.h defines them. Kept apart from the
/// kernels so formats, model and kernels all read one table without depending on each other.
/// </summary>
public static class GgmlTypes
{
    /// <summary>Weights per super-block of the k-quants.</summary>
    public const int QK_K = 256;

    /// <summary>Weights per block of the legacy quants (Q4_0 … Q8_0).</summary>
    public const int QK = 32;

    /// <summary>True for the types this library can dequantize.</summary>
    public static bool IsSupported(uint type) => type switch
    {
        0 or 1 or 2 or 3 or 6 or 7 or 8 or 12 or 13 or 14 or 15 or 30 => true,
        _ => false,
    };

    /// <summary>ggml's name for a type number, including ones this library cannot read, for error messages.</summary>
    public static string TypeName(uint type) => type switch
    {
        0 => "F32", 1 => "F16", 2 => "Q4_0", 3 => "Q4_1", 4 => "Q4_2 (removed)", 5 => "Q4_3 (removed)", 6 => "Q5_0", 7 => "Q5_1",
        8 => "Q8_0", 9 => "Q8_1", 10 => "Q2_K", 11 => "Q3_K", 12 => "Q4_K", 13 => "Q5_K", 14 => "Q6_K", 15 => "Q8_K",
        16 => "IQ2_XXS", 17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S", 22 => "IQ2_S",
        23 => "IQ4_XS", 24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M", 30 => "BF16",
        34 => "TQ1_0", 35 => "TQ2_0", 39 => "MXFP4",
        _ => $"unknown type {type}",
    };

    /// <summary>Weights per block (1 for the float types).</summary>
    public static int BlockSize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 1,
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 => QK,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => QK_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported GGML type"),
    };

    /// <summary>Bytes per block.</summary>
    public static int TypeSize(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.Q4_0 => 2 + QK / 2,                       // d, 16 nibble pairs
        GgmlType.Q4_1 => 4 + QK / 2,                       // d, m, nibbles
        GgmlType.Q5_0 => 2 + 4 + QK / 2,                   // d, qh (32 high bits), nibbles
        GgmlType.Q5_1 => 4 + 4 + QK / 2,                   // d, m, qh, nibbles
        GgmlType.Q8_0 => 2 + QK,                           // d, 32 int8
        GgmlType.Q4_K => 4 + 12 + QK_K / 2,                // d, dmin, 6-bit scales/mins, nibbles = 144
        GgmlType.Q5_K => 4 + 12 + QK_K / 8 + QK_K / 2,     // + high bits = 176
        GgmlType.Q6_K => QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, // ql, qh, int8 scales, d = 210
        GgmlType.Q8_K => 4 + QK_K + QK_K / 16 * 2,         // fp32 d, int8 qs, int16 bsums = 292
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unsupported GGML type"),
    };

    /// <summary>Bytes of <paramref name="elements"/> weights; <paramref name="elements"/> must be a multiple of the block size.</summary>
    public static long ByteCount(GgmlType type, long elements)
    {
        int bs = BlockSize(type);
        if (elements < 0 || elements % bs != 0)
            throw new ArgumentException($"{elements} elements is not a whole number of {type} blocks of {bs}", nameof(elements));
        return checked(elements / bs * TypeSize(type));
    }
}
