using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// One tensor's header entry. <see cref="Dimensions"/> is in ggml order: ne[0] is the fastest-varying (row length),
/// so a PyTorch [out, in] matrix appears as [in, out].
/// </summary>
public sealed record GgufTensorInfo
{
    public required string Name { get; init; }
    /// <summary>ne[0..n_dims): ne[0] is the contiguous dimension.</summary>
    public required long[] Dimensions { get; init; }
    public required GgmlType Type { get; init; }
    /// <summary>Offset relative to the start of the data section, as stored.</summary>
    public required ulong RelativeOffset { get; init; }
    /// <summary>Absolute file offset of the first byte.</summary>
    public required long FileOffset { get; init; }
    /// <summary>Bytes the tensor occupies (without alignment padding).</summary>
    public required long ByteSize { get; init; }
    /// <summary>Offset of this entry in the header, for messages.</summary>
    public required long HeaderOffset { get; init; }

    /// <summary>Product of the dimensions.</summary>
    public long ElementCount
    {
        get { long n = 1; foreach (var d in Dimensions) n *= d; return n; }
    }

    /// <summary>Shape in ggml order, e.g. "[8, 32000]".</summary>
    public string ShapeString => "[" + string.Join(", ", Dimensions) + "]";
}
