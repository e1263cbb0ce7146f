namespace Elongate.Evaluation.Tasks;

/// <summary>A task's multiple-choice run: the summary and the per-item records (in item order) behind it.</summary>
/// <param name="Report">The task's scores.</param>
/// <param name="Records">One record per scored item, for comparisons and resuming.</param>
/// <param name="Skipped">Items that could not be scored (they are in no mean), with reasons.</param>
public sealed record MultipleChoiceResult(MultipleChoiceReport Report, IReadOnlyList<MultipleChoiceRecord> Records,
    IReadOnlyList<MultipleChoiceSkippedItem> Skipped);
