namespace Elongate.Evaluation.Tasks;

/// <summary>The score of one prediction.</summary>
/// <param name="Value">The score in [0, 1].</param>
/// <param name="Parsed">False when the answer format could not be read from the prediction (then <paramref name="Value"/> is 0); the harness counts these.</param>
/// <param name="Extracted">What the scorer read from the prediction (an option letter, a number, the normalized text…), null when nothing was read.</param>
public readonly record struct TaskScore(double Value, bool Parsed, string? Extracted)
{
    /// <summary>A reply whose answer could not be read: scored 0.</summary>
    public static TaskScore Unparsed { get; } = new(0, false, null);

    /// <summary>ROUGE-1/2/L of a rouge-scored prediction (null for other metrics), for the benchmarks' task-level geometric mean.</summary>
    public RougeScores? Rouge { get; init; }
}
