namespace Elongate.Formats;

/// <summary>
/// One header entry of a safetensors file, already validated. <see cref="Begin"/> and <see cref="End"/> are
/// relative to the start of the data section, as the format stores them ([begin, end) in bytes).
/// </summary>
/// <param name="Name">Tensor name, e.g. "model.layers.0.self_attn.q_proj.weight".</param>
/// <param name="Dtype">Element type.</param>
/// <param name="Shape">Dimensions, outermost first (row-major, PyTorch order).</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte, relative to the data section.</param>
/// <param name="HeaderOffset">File offset of the entry's name in the JSON header, for error messages.</param>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End, long HeaderOffset)
{
    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Size of the tensor's data in bytes.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Shape as "[a, b]" for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats any shape as "[a, b]".</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
