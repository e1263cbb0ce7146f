namespace Elongate.Formats;

/// <summary>Sizes, names and conversions of <see cref="SafetensorsDtype"/> values.</summary>
public static class SafetensorsDtypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.BOOL or SafetensorsDtype.U8 or SafetensorsDtype.I8 or SafetensorsDtype.F8_E5M2 or SafetensorsDtype.F8_E4M3 => 1,
        SafetensorsDtype.I16 or SafetensorsDtype.U16 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 => 2,
        SafetensorsDtype.I32 or SafetensorsDtype.U32 or SafetensorsDtype.F32 => 4,
        SafetensorsDtype.F64 or SafetensorsDtype.I64 or SafetensorsDtype.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>True for the types this library converts to and from fp32.</summary>
    public static bool IsFloatConvertible(this SafetensorsDtype dtype) =>
        dtype is SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16;

    /// <summary>The header spelling ("F32", "BF16", …); identical to the enum member name.</summary>
    public static string HeaderName(this SafetensorsDtype dtype) => dtype.ToString();

    /// <summary>Parses a header dtype string exactly (case-sensitive, as the reference is).</summary>
    public static bool TryParse(string text, out SafetensorsDtype dtype)
    {
        foreach (var d in Enum.GetValues<SafetensorsDtype>())
        {
            if (string.Equals(d.ToString(), text, StringComparison.Ordinal))
            {
                dtype = d;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>PyTorch's name for the type, as transformers writes it in config.json's torch_dtype.</summary>
    public static string TorchName(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F32 => "float32",
        SafetensorsDtype.F16 => "float16",
        SafetensorsDtype.BF16 => "bfloat16",
        SafetensorsDtype.F64 => "float64",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// fp32 → bfloat16 with round-to-nearest-even, the rounding PyTorch's tensor.to(torch.bfloat16) uses;
    /// NaN stays a (quiet) NaN instead of rounding into infinity.
    /// </summary>
    public static ushort FloatToBFloat16(float value) => Kernels.GgmlQuants.SingleToBFloat16(value);

    /// <summary>bfloat16 → fp32 is exact: bfloat16 is the top half of an fp32.</summary>
    public static float BFloat16ToFloat(ushort value) => Kernels.GgmlQuants.BFloat16ToSingle(value);

    /// <summary>fp32 → IEEE binary16 with round-to-nearest-even (System.Half's conversion).</summary>
    public static ushort FloatToHalf(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>IEEE binary16 → fp32, exact.</summary>
    public static float HalfToFloat(ushort value) => (float)BitConverter.UInt16BitsToHalf(value);
}
