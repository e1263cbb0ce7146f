namespace Elongate.Formats;

/// <summary>
/// A tensor to write: fp32 values in row-major order, stored on disk as <paramref name="Dtype"/>
/// (F32, F16 or BF16; the narrower types round to nearest even).
/// </summary>
/// <param name="Name">Header name; must be unique and not "__metadata__".</param>
/// <param name="Shape">Dimensions, outermost first; their product must equal <paramref name="Data"/>'s length.</param>
/// <param name="Data">Values, row-major.</param>
/// <param name="Dtype">On-disk element type.</param>
public sealed record SafetensorsTensor(string Name, long[] Shape, float[] Data, SafetensorsDtype Dtype = SafetensorsDtype.F32)
{
    /// <summary>Bytes the tensor takes on disk.</summary>
    public long ByteLength => Data.LongLength * Dtype.Size();
}
