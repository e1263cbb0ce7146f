namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The summary of a task run (report.json): one cell per task × length × shots and an overall row per length × shots.
/// Scores are in [0, 1] (<see cref="TaskCell.Score"/>); the overall score is the mean of the task scores (each task
/// weighs the same, as L-Eval and ZeroSCROLLS average). Built from the results file alone, so a resumed run reports
/// exactly what an uninterrupted one would (time aside).
/// </summary>
/// <param name="Model">The model's name.</param>
/// <param name="ContextLength">The model's context; lengths above it are capped to it.</param>
/// <param name="Truncation">middle or left.</param>
/// <param name="Chat">Prompts went through the chat template.</param>
/// <param name="Seed">Seed of the few-shot draws.</param>
/// <param name="Limit">Questions per file, or null for all.</param>
/// <param name="Lengths">The length caps.</param>
/// <param name="Shots">The shot counts.</param>
/// <param name="Results">The per-example results file.</param>
/// <param name="Answered">Questions answered (or multiple-choice items scored) in this invocation.</param>
/// <param name="Resumed">Questions and items taken from the results and records files of an earlier run.</param>
/// <param name="Cells">Per task × length × shots.</param>
/// <param name="Overall">Per length × shots over all tasks.</param>
public sealed record TaskReport(string Model, int ContextLength, string Truncation, bool Chat, int Seed, int? Limit,
    IReadOnlyList<int> Lengths, IReadOnlyList<int> Shots, string Results, int Answered, int Resumed,
    IReadOnlyList<TaskCell> Cells, IReadOnlyList<TaskOverall> Overall)
{
    /// <summary>
    /// The tasks scored by log-likelihood multiple choice (L-Eval exam files per length and shots, multiple-choice
    /// files per shots); they are not in <see cref="Overall"/>, which averages the generation cells.
    /// </summary>
    public IReadOnlyList<MultipleChoiceCell> MultipleChoice { get; init; } = [];
}

/// <summary>One task at one length and shot count.</summary>
/// <param name="Task">Task name.</param>
/// <param name="Metric">exam, f1 or rouge.</param>
/// <param name="Length">Length cap.</param>
/// <param name="Shots">Few-shot examples asked for.</param>
/// <param name="N">Questions.</param>
/// <param name="Score">
/// Score in [0, 1]: the mean per-question score for exam and f1 tasks; for rouge tasks the geometric mean of the mean
/// ROUGE-1/2/L F-measures (ZeroSCROLLS' score, L-Eval's LEval_score).
/// </param>
/// <param name="Rouge1">Mean ROUGE-1 F-measure (rouge tasks; null otherwise).</param>
/// <param name="Rouge2">Mean ROUGE-2 F-measure.</param>
/// <param name="RougeL">Mean ROUGE-L F-measure.</param>
/// <param name="Unparsed">Answers the scorer could not read (including questions without an answer).</param>
/// <param name="Truncated">Questions whose document was cut.</param>
/// <param name="OverBudget">Questions whose prompt exceeded the cap even without any document (question and template alone are too long for it).</param>
/// <param name="Errors">Questions the model could not answer (prompt beyond its context).</param>
/// <param name="PromptTokens">Prompt tokens processed.</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
/// <param name="Seconds">Generation time.</param>
public sealed record TaskCell(string Task, string Metric, int Length, int Shots, int N, double Score, double? Rouge1, double? Rouge2, double? RougeL, int Unparsed, int Truncated, int OverBudget, int Errors,
    long PromptTokens, long GeneratedTokens, double Seconds);

/// <summary>All tasks at one length and shot count.</summary>
/// <param name="Length">Length cap.</param>
/// <param name="Shots">Few-shot examples asked for.</param>
/// <param name="Tasks">Tasks averaged.</param>
/// <param name="N">Questions.</param>
/// <param name="Score">Mean of the task scores.</param>
/// <param name="Unparsed">Unreadable answers.</param>
/// <param name="Truncated">Cut documents.</param>
/// <param name="OverBudget">Prompts over the cap without any document.</param>
/// <param name="Errors">Unanswered questions.</param>
/// <param name="PromptTokens">Prompt tokens processed.</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
/// <param name="Seconds">Generation time.</param>
public sealed record TaskOverall(int Length, int Shots, int Tasks, int N, double Score, int Unparsed, int Truncated, int OverBudget, int Errors,
    long PromptTokens, long GeneratedTokens, double Seconds);
