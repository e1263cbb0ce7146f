namespace Elongate.Data;

/// <summary>
/// One training row for instruction tuning, all arrays of --seq-len tokens: the inputs, the next-token targets
/// (<see cref="IgnoreIndex"/> where no loss is taken: template tokens, prompt tokens under
/// <see cref="LossTokens.Answers"/>, padding, and the last token of each example), and the example each token belongs
/// to (attention stays inside equal ids; <see cref="PaddingSegment"/> marks padding, which attends to nothing and
/// costs no attention work).
/// </summary>
public sealed record FineTuneSequence(int[] Inputs, int[] Targets, int[] Segments)
{
    /// <summary>Target value that carries no loss (the training model's ignore index).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>Segment id of padding tokens.</summary>
    public const int PaddingSegment = -1;
}
