namespace Elongate.Evaluation;

/// <summary>One prompt of a retrieval evaluation: what was expected, what the model wrote, and its score.</summary>
/// <param name="Trial">Trial index within the cell (the same index means the same key / text at every length and depth).</param>
/// <param name="Expected">The reference: the key, the true first sentence, or the needle's answer.</param>
/// <param name="Generated">The greedy continuation, decoded.</param>
/// <param name="Score">1/0 for passkey; ROUGE-L F for first-sentence; normalized match for needle.</param>
/// <param name="PromptTokens">Prompt length in tokens, BOS included (≤ the cell's length).</param>
public sealed record EvalTrial(int Trial, string Expected, string Generated, double Score, int PromptTokens);

/// <summary>One grid cell: a target length (and depth, for tasks that place something in the text) with its trials.</summary>
/// <param name="Length">Target prompt length in tokens.</param>
/// <param name="Depth">Relative position of the key or needle in the text (0 = start, 1 = end); null when the task has none.</param>
/// <param name="Score">Mean of the trials' scores.</param>
/// <param name="MeanPromptTokens">Mean actual prompt length (fitting can only stay at or below the target).</param>
/// <param name="Trials">Every trial, for inspection.</param>
public sealed record EvalCell(int Length, double? Depth, double Score, double MeanPromptTokens, IReadOnlyList<EvalTrial> Trials);

/// <summary>The result of a grid of retrieval prompts (passkey, first-sentence, needle).</summary>
/// <param name="Task">passkey, first-sentence or needle.</param>
/// <param name="Metric">What <see cref="EvalCell.Score"/> measures.</param>
/// <param name="ContextLength">The session's context: the largest length plus the generation budget.</param>
/// <param name="Lengths">Grid lengths, ascending as given.</param>
/// <param name="Depths">Grid depths (empty for first-sentence).</param>
/// <param name="Cells">Cells in length-major order.</param>
/// <param name="Settings">The options the run used.</param>
/// <param name="Seconds">Wall time of the whole grid.</param>
public sealed record RetrievalReport(string Task, string Metric, int ContextLength, IReadOnlyList<int> Lengths, IReadOnlyList<double> Depths,
    IReadOnlyList<EvalCell> Cells, object Settings, double Seconds)
{
    /// <summary>The score of the cell at (<paramref name="length"/>, <paramref name="depth"/>), NaN if absent.</summary>
    public double ScoreAt(int length, double? depth) =>
        Cells.FirstOrDefault(c => c.Length == length && c.Depth == depth)?.Score ?? double.NaN;
}
