namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One multiple-choice task at one length cap and shot count in a task run's report (report.json's
/// <c>multiple_choice</c>). Scores are in [0, 1]; those that do not apply are null.
/// </summary>
/// <param name="Task">Task name (file name without extension).</param>
/// <param name="Format">leval-letters or leval-options (an L-Eval exam file), else the multiple-choice shape (arc, hellaswag, mmlu, piqa, truthfulqa, generic).</param>
/// <param name="Length">The length cap the prompts were fitted to (L-Eval files); null for multiple-choice files, which are asked whole within the model's context.</param>
/// <param name="Shots">Few-shot examples asked for.</param>
/// <param name="N">Items scored (the means are over these).</param>
/// <param name="Acc">Mean accuracy over the accuracy-scored items (null when there are none: TruthfulQA).</param>
/// <param name="AccNorm">Mean accuracy choosing by log-likelihood per character of the choice.</param>
/// <param name="Mc1">TruthfulQA MC1.</param>
/// <param name="Mc2">TruthfulQA MC2.</param>
/// <param name="MultiGold">Items with several correct choices (coursera), correct when the most probable choice is one of them.</param>
/// <param name="Truncated">Items whose document was cut to fit the cap.</param>
/// <param name="Skipped">Items not scored because even without their document they exceed the cap or the model's context.</param>
/// <param name="Unconverted">Questions whose options or reference could not be read as letters (not scored).</param>
/// <param name="Resumed">Items taken from the records file of an earlier run.</param>
/// <param name="Problem">The first reason an item was skipped or not converted, or null.</param>
/// <param name="Records">The per-item records file (JSON Lines; rerunning resumes from it).</param>
/// <param name="PromptTokens">Prompt tokens of the items scored in this invocation (BOS included).</param>
/// <param name="Seconds">Scoring time in this invocation.</param>
public sealed record MultipleChoiceCell(string Task, string Format, int? Length, int Shots, int N, double? Acc, double? AccNorm, double? Mc1, double? Mc2,
    int MultiGold, int Truncated, int Skipped, int Unconverted, int Resumed, string? Problem, string Records, long PromptTokens, double Seconds);
