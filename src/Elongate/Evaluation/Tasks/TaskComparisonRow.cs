namespace Elongate.Evaluation.Tasks;

/// <summary>One row of a two-model comparison: a task's paired items, both means, the difference and its interval.</summary>
/// <param name="Task">Task name ("all" for the pooled row).</param>
/// <param name="N">Items scored by both models (the means and the difference are over these only).</param>
/// <param name="MeanA">Model A's mean over the paired items.</param>
/// <param name="MeanB">Model B's mean over the paired items.</param>
/// <param name="Difference">A − B.</param>
/// <param name="Lower">Lower end of the paired-bootstrap interval (NaN when N is 0).</param>
/// <param name="Upper">Upper end.</param>
/// <param name="PValue">Two-sided bootstrap p-value (<see cref="PairedBootstrapResult.PValue"/>).</param>
/// <param name="OnlyInA">Items only A has a score for (left out of the comparison).</param>
/// <param name="OnlyInB">Items only B has a score for.</param>
public sealed record TaskComparisonRow(
    string Task, int N, double MeanA, double MeanB, double Difference, double Lower, double Upper, double PValue,
    int OnlyInA, int OnlyInB);
