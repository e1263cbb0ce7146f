namespace Elongate.Evaluation.Tasks;

/// <summary>A finished task run: its report (also in report.json) and the per-item scores a comparison pairs.</summary>
/// <param name="Report">The summary.</param>
/// <param name="Items">Per-item scores, one entry per task × metric × length × shots.</param>
public sealed record TaskRun(TaskReport Report, IReadOnlyList<TaskItemScores> Items);
