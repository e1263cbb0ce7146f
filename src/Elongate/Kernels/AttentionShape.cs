namespace Elongate.Kernels;

/// <summary>
/// Dimensions of a batched causal grouped-query attention call. Queries are [Batch, SeqLen, NumHeads·HeadDim],
/// keys and values [Batch, SeqLen, NumKvHeads·HeadDim]; query head h reads key/value head h / (NumHeads/NumKvHeads).
/// </summary>
public readonly record struct AttentionShape(int Batch, int SeqLen, int NumHeads, int NumKvHeads, int HeadDim)
{
    /// <summary>Width of one token's queries (and of the attention output).</summary>
    public int QDim => NumHeads * HeadDim;

    /// <summary>Width of one token's keys or values.</summary>
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>Query heads per key/value head.</summary>
    public int Group => NumHeads / NumKvHeads;

    /// <summary>Throws when the shape is not usable or a buffer is too short for it.</summary>
    public void Check(long qLength, long kvLength, ReadOnlySpan<int> segments)
    {
        if (Batch <= 0 || SeqLen <= 0 || NumHeads <= 0 || NumKvHeads <= 0 || HeadDim <= 0 || NumHeads % NumKvHeads != 0)
            throw new ArgumentException($"bad attention shape {this}");
        if (qLength < (long)Batch * SeqLen * QDim || kvLength < (long)Batch * SeqLen * KvDim)
            throw new ArgumentException($"attention buffers too short for {this}: q {qLength}, kv {kvLength}");
        if (!segments.IsEmpty && segments.Length < (long)Batch * SeqLen)
            throw new ArgumentException($"segment ids hold {segments.Length} values, need {Batch * SeqLen}");
    }
}
