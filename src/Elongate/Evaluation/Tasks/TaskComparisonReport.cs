namespace Elongate.Evaluation.Tasks;

/// <summary>Two models compared on the same items (comparison.json).</summary>
/// <param name="ModelA">Model A's name.</param>
/// <param name="ModelB">Model B's name.</param>
/// <param name="RunA">Model A's run folder.</param>
/// <param name="RunB">Model B's run folder.</param>
/// <param name="Confidence">Nominal coverage of the intervals (0.95).</param>
/// <param name="Resamples">Bootstrap resamples per interval.</param>
/// <param name="Seed">Seed of the resampling.</param>
/// <param name="Cells">One row per task × metric × length × shots.</param>
public sealed record TaskComparisonReport(string ModelA, string ModelB, string RunA, string RunB, double Confidence, int Resamples, int Seed,
    IReadOnlyList<TaskComparisonCell> Cells);
