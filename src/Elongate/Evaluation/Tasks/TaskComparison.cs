using System.Globalization;
using System.Text;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Compares two models task by task from their per-item scores keyed by item id (e.g. each model's
/// <see cref="MultipleChoiceRecord.Score"/>s, or a generation task's per-example scores): items are paired by id,
/// items only one model has are counted and left out, and each task gets a <see cref="PairedBootstrap"/> interval.
/// </summary>
public static class TaskComparison
{
    /// <summary>
    /// The comparison row of one task. Pairs are taken in ordinal id order, so the bootstrap (and its seed) sees the
    /// same sequence whatever order the dictionaries enumerate in.
    /// </summary>
    public static TaskComparisonRow Compare(string task, IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b,
        int resamples = PairedBootstrap.DefaultResamples, int seed = 0, double confidence = 0.95)
    {
        var ids = a.Keys.Where(b.ContainsKey).Order(StringComparer.Ordinal).ToArray();
        int onlyA = a.Count - ids.Length, onlyB = b.Count - ids.Length;
        if (ids.Length == 0) return new TaskComparisonRow(task, 0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, onlyA, onlyB);
        var r = PairedBootstrap.Compare(ids.Select(i => a[i]).ToArray(), ids.Select(i => b[i]).ToArray(), resamples, seed, confidence);
        return new TaskComparisonRow(task, r.N, r.MeanA, r.MeanB, r.Difference, r.Lower, r.Upper, r.PValue, onlyA, onlyB);
    }

    /// <summary>The comparison row of one task from two multiple-choice runs' records (scores <see cref="MultipleChoiceRecord.Score"/>).</summary>
    public static TaskComparisonRow Compare(string task, IReadOnlyList<MultipleChoiceRecord> a, IReadOnlyList<MultipleChoiceRecord> b,
        int resamples = PairedBootstrap.DefaultResamples, int seed = 0, double confidence = 0.95) =>
        Compare(task, ScoresById(a), ScoresById(b), resamples, seed, confidence);

    /// <summary>
    /// One row per task present for either model (in A's task order, then B's extra tasks), followed, when there is
    /// more than one task, by an "all" row over every paired item of every task (ids qualified by task, so each item
    /// weighs the same: a micro-average, not the mean of task means).
    /// </summary>
    public static IReadOnlyList<TaskComparisonRow> CompareAll(
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> a,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> b,
        int resamples = PairedBootstrap.DefaultResamples, int seed = 0, double confidence = 0.95)
    {
        var empty = new Dictionary<string, double>();
        var tasks = a.Keys.Concat(b.Keys.Where(t => !a.ContainsKey(t))).ToArray();
        var rows = new List<TaskComparisonRow>();
        var pooledA = new Dictionary<string, double>(StringComparer.Ordinal);
        var pooledB = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var task in tasks)
        {
            var ta = a.GetValueOrDefault(task) ?? empty;
            var tb = b.GetValueOrDefault(task) ?? empty;
            rows.Add(Compare(task, ta, tb, resamples, seed, confidence));
            foreach (var (id, v) in ta) pooledA[task + "\u001f" + id] = v;
            foreach (var (id, v) in tb) pooledB[task + "\u001f" + id] = v;
        }
        if (tasks.Length > 1) rows.Add(Compare("all", pooledA, pooledB, resamples, seed, confidence));
        return rows;
    }

    /// <summary>A plain-text table of <paramref name="rows"/> (fixed-width columns, invariant culture), for logs and the console.</summary>
    public static string FormatTable(IEnumerable<TaskComparisonRow> rows, string nameA = "A", string nameB = "B", double confidence = 0.95)
    {
        var header = new[] { "task", "n", nameA, nameB, "diff", $"{confidence * 100:0.#}% CI", "p", "unpaired" };
        var body = rows.Select(r => new[]
        {
            r.Task, r.N.ToString(CultureInfo.InvariantCulture), F(r.MeanA), F(r.MeanB), F(r.Difference, signed: true),
            $"[{F(r.Lower, signed: true)}, {F(r.Upper, signed: true)}]", F(r.PValue),
            (r.OnlyInA + r.OnlyInB).ToString(CultureInfo.InvariantCulture),
        }).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(c => body.Select(row => row[c].Length).Append(header[c].Length).Max()).ToArray();
        var sb = new StringBuilder();
        foreach (var row in body.Prepend(header))
            sb.AppendJoin("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).Append('\n');
        return sb.ToString();
    }

    private static string F(double v, bool signed = false) =>
        double.IsNaN(v) ? "-" : v.ToString(signed ? "+0.0000;-0.0000;0.0000" : "0.0000", CultureInfo.InvariantCulture);

    private static Dictionary<string, double> ScoresById(IReadOnlyList<MultipleChoiceRecord> records)
    {
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var r in records)
            if (!scores.TryAdd(r.Id, r.Score)) throw new ArgumentException($"item id '{r.Id}' appears twice", nameof(records));
        return scores;
    }
}
