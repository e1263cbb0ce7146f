namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Compares two task runs on the same items: for each task × metric × length × shots either run has, the items both
/// scored are paired by id and <see cref="TaskComparison"/> gives B − A with a seeded paired-bootstrap interval
/// (<see cref="PairedBootstrap"/>: items resampled, so what makes an item hard for both models cancels out).
/// </summary>
public static class TaskRunComparison
{
    /// <summary>The comparison file in the output folder of a compared run.</summary>
    public const string FileName = "comparison.json";

    /// <summary>B − A for every number of <paramref name="a"/> and <paramref name="b"/>, in A's order then B's extra ones.</summary>
    public static TaskComparisonReport Compare(TaskRun a, TaskRun b, string runA, string runB, int seed, int resamples = PairedBootstrap.DefaultResamples,
        double confidence = 0.95)
    {
        var byKey = b.Items.ToDictionary(Key);
        var keys = a.Items.Select(Key).Concat(b.Items.Select(Key).Where(k => !a.Items.Any(x => Key(x) == k))).Distinct().ToList();
        var fromA = a.Items.ToDictionary(Key);
        var empty = new Dictionary<string, double>();
        var cells = new List<TaskComparisonCell>();
        foreach (var key in keys)
        {
            var sa = fromA.TryGetValue(key, out var x) ? x.Scores : empty;
            var sb = byKey.TryGetValue(key, out var y) ? y.Scores : empty;
            // TaskComparison gives first − second: pass B first for B − A.
            var row = TaskComparison.Compare(key.Task, sb, sa, resamples, seed, confidence);
            cells.Add(new TaskComparisonCell(key.Task, key.Metric, key.Length, key.Shots, row.N, row.MeanB, row.MeanA, row.Difference,
                row.Lower, row.Upper, row.PValue, row.OnlyInB, row.OnlyInA));
        }
        return new TaskComparisonReport(a.Report.Model, b.Report.Model, runA, runB, confidence, resamples, seed, cells);
    }

    private static (string Task, string Metric, int? Length, int Shots) Key(TaskItemScores s) => (s.Task, s.Metric, s.Length, s.Shots);
}
