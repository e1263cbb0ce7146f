namespace Elongate.Evaluation.Tasks;

/// <summary>Progress of a task run after each question (answered now or found in the results file).</summary>
/// <param name="Done">Questions done, resumed ones included.</param>
/// <param name="Total">Questions in the run (files × shots × lengths × questions).</param>
/// <param name="Resumed">Of <paramref name="Done"/>, those taken from an earlier run.</param>
/// <param name="Task">Task of the current question.</param>
/// <param name="Length">Its length cap.</param>
/// <param name="Shots">Its shot count.</param>
/// <param name="Last">The result just written, or null for a resumed question or a multiple-choice item.</param>
public sealed record TaskProgress(int Done, int Total, int Resumed, string Task, int Length, int Shots, TaskExampleResult? Last)
{
    /// <summary>For a multiple-choice item that ends its cell: the cell's summary ("acc 25.0%, acc_norm …"), else null.</summary>
    public string? CellSummary { get; init; }
}
