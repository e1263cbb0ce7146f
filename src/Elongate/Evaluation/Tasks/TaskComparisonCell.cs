namespace Elongate.Evaluation.Tasks;

/// <summary>One compared number of two task runs (comparison.json): both models' means over the items both scored and B − A with its paired-bootstrap interval.</summary>
/// <param name="Task">Task name.</param>
/// <param name="Metric">exam, f1, rouge-l (per-answer ROUGE-L F), acc, acc_norm, mc1 or mc2.</param>
/// <param name="Length">Length cap, or null for a multiple-choice file.</param>
/// <param name="Shots">Shot count.</param>
/// <param name="N">Items both runs scored.</param>
/// <param name="ScoreA">Model A's mean over them.</param>
/// <param name="ScoreB">Model B's mean over them.</param>
/// <param name="Difference">B − A.</param>
/// <param name="Lower">Lower end of the interval of B − A (NaN when N is 0).</param>
/// <param name="Upper">Upper end.</param>
/// <param name="PValue">Two-sided bootstrap p-value (<see cref="PairedBootstrapResult.PValue"/>).</param>
/// <param name="OnlyInA">Items only A scored (left out).</param>
/// <param name="OnlyInB">Items only B scored (left out).</param>
public sealed record TaskComparisonCell(string Task, string Metric, int? Length, int Shots, int N, double ScoreA, double ScoreB, double Difference,
    double Lower, double Upper, double PValue, int OnlyInA, int OnlyInB);
