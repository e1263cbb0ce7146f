namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One task's multiple-choice scores, JSON-serialisable (snake_case through <see cref="EvalJson"/>). Means over items
/// with lm-evaluation-harness's standard error of the mean (sample standard deviation / √n). Fields that do not apply
/// to the task are null (no MC2 items → <see cref="Mc2"/> null).
/// </summary>
/// <param name="Task">Task name (usually the data file's name).</param>
/// <param name="Model">The model's name.</param>
/// <param name="N">Items scored (skipped ones not included).</param>
/// <param name="Acc">Mean accuracy over the accuracy-scored items (plain and MC1), or null when there are none.</param>
/// <param name="AccStderr">Its standard error.</param>
/// <param name="AccNorm">Mean length-normalised accuracy over the same items.</param>
/// <param name="AccNormStderr">Its standard error.</param>
/// <param name="Mc1">TruthfulQA MC1: mean accuracy over MC1 items.</param>
/// <param name="Mc1Stderr">Its standard error.</param>
/// <param name="Mc2">TruthfulQA MC2: mean true-answer probability mass over MC2 items.</param>
/// <param name="Mc2Stderr">Its standard error.</param>
/// <param name="MultiGold">Accuracy items with more than one gold choice (scored "argmax among the gold").</param>
/// <param name="Truncated">Items whose document was shortened to fit.</param>
/// <param name="Skipped">Items left out because even their question and choices did not fit in the context.</param>
/// <param name="Resumed">Items taken from an earlier run's records file instead of being scored again.</param>
/// <param name="Seconds">Wall time of this run.</param>
public sealed record MultipleChoiceReport(
    string Task,
    string Model,
    int N,
    double? Acc,
    double? AccStderr,
    double? AccNorm,
    double? AccNormStderr,
    double? Mc1,
    double? Mc1Stderr,
    double? Mc2,
    double? Mc2Stderr,
    int MultiGold,
    int Truncated,
    int Skipped,
    int Resumed,
    double Seconds)
{
    /// <summary>The report of <paramref name="records"/> (one per item).</summary>
    public static MultipleChoiceReport Summarize(string task, string model, IReadOnlyList<MultipleChoiceRecord> records,
        int skipped = 0, int resumed = 0, double seconds = 0)
    {
        var accItems = records.Where(r => r.Scoring != MultipleChoiceScoring.TruthfulQaMc2).ToArray();
        var mc1 = records.Where(r => r.Scoring == MultipleChoiceScoring.TruthfulQaMc1).Select(r => r.Acc).ToArray();
        var mc2 = records.Where(r => r.Scoring == MultipleChoiceScoring.TruthfulQaMc2).Select(r => r.TrueMass).ToArray();
        var acc = accItems.Select(r => r.Acc).ToArray();
        var accNorm = accItems.Select(r => r.AccNorm).ToArray();
        return new MultipleChoiceReport(task, model, records.Count,
            Mean(acc), Stderr(acc), Mean(accNorm), Stderr(accNorm),
            Mean(mc1), Stderr(mc1), Mean(mc2), Stderr(mc2),
            accItems.Count(r => r.Gold.Count > 1), records.Count(r => r.Truncated), skipped, resumed, seconds);
    }

    private static double? Mean(double[] v) => v.Length == 0 ? null : v.Average();
    private static double? Stderr(double[] v) => v.Length == 0 ? null : MultipleChoiceMetrics.MeanStandardError(v);
}
