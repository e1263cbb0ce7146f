namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The per-item scores behind one number of a task run, keyed by item id, for pairing with another model's run
/// (<see cref="TaskRunComparison"/>).
/// </summary>
/// <param name="Task">Task name.</param>
/// <param name="Metric">exam, f1 or rouge-l (generation: the per-answer score; rouge-l is the answer's ROUGE-L F-measure), or acc, acc_norm, mc1, mc2.</param>
/// <param name="Length">Length cap, or null for a multiple-choice file.</param>
/// <param name="Shots">Shot count.</param>
/// <param name="Scores">Item id → score in [0, 1].</param>
public sealed record TaskItemScores(string Task, string Metric, int? Length, int Shots, IReadOnlyDictionary<string, double> Scores);
