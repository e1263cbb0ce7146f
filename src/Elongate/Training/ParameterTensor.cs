namespace Elongate.Training;

/// <summary>
/// One named parameter inside a model's flat parameter (and gradient) buffer. Names follow GGUF tensor names so
/// logs and checkpoints read the same everywhere.
/// </summary>
/// <param name="Name">GGUF-style name, e.g. <c>blk.0.attn_q.weight</c>.</param>
/// <param name="Offset">First element in the flat buffer.</param>
/// <param name="Shape">Row-major shape; [dim] for norm gains, [out, in] for matrices.</param>
public sealed record ParameterTensor(string Name, int Offset, int[] Shape)
{
    /// <summary>Number of elements.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>True for matrices (projections and embeddings), false for 1-D gains.</summary>
    public bool IsMatrix => Shape.Length >= 2;
}
