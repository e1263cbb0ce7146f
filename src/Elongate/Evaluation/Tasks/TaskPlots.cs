using System.Globalization;
using Elongate.Common;
using ScottPlot;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The paper's figure for a task run: score against input length (log₂-spaced caps on a log axis), one line per task
/// and shot count (log-likelihood tasks dashed), plus the mean of the generation tasks as a thick black line, written atomically as a PNG.
/// </summary>
public static class TaskPlots
{
    private const int Width = 1100, Height = 700;

    /// <summary>
    /// Writes the score-by-length chart of <paramref name="report"/> to <paramref name="path"/>: generation tasks by
    /// their score, log-likelihood L-Eval tasks by acc. False (and nothing written) when no task has a length axis
    /// (only multiple-choice files).
    /// </summary>
    public static bool WriteScoreByLength(string path, TaskReport report, string title)
    {
        var choice = report.MultipleChoice.Where(c => c.Length is not null && c.Acc is not null).ToList();
        if (report.Cells.Count == 0 && choice.Count == 0) return false;
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var lengths = report.Lengths.Order().ToArray();
        int series = 0;
        bool manyShots = report.Shots.Count > 1;
        foreach (var group in report.Cells.GroupBy(c => (c.Task, c.Shots)))
        {
            var points = group.OrderBy(c => c.Length).ToArray();
            var sp = plt.Add.Scatter(points.Select(c => Math.Log10(c.Length)).ToArray(), points.Select(c => c.Score * 100).ToArray());
            sp.LineWidth = 1.5f;
            sp.MarkerSize = 7;
            sp.Color = palette.GetColor(series++);
            sp.LegendText = manyShots ? $"{group.Key.Task} ({group.Key.Shots}-shot)" : group.Key.Task;
        }
        foreach (var group in choice.GroupBy(c => (c.Task, c.Shots)))
        {
            var points = group.OrderBy(c => c.Length).ToArray();
            var sp = plt.Add.Scatter(points.Select(c => Math.Log10(c.Length!.Value)).ToArray(), points.Select(c => c.Acc!.Value * 100).ToArray());
            sp.LineWidth = 1.5f;
            sp.LinePattern = LinePattern.Dashed;
            sp.MarkerSize = 7;
            sp.Color = palette.GetColor(series++);
            sp.LegendText = (manyShots ? $"{group.Key.Task} ({group.Key.Shots}-shot)" : group.Key.Task) + " acc (log-likelihood)";
        }
        foreach (var group in report.Overall.GroupBy(o => o.Shots))
        {
            var points = group.OrderBy(o => o.Length).ToArray();
            var sp = plt.Add.Scatter(points.Select(o => Math.Log10(o.Length)).ToArray(), points.Select(o => o.Score * 100).ToArray());
            sp.LineWidth = 3;
            sp.MarkerSize = 10;
            sp.MarkerShape = MarkerShape.FilledDiamond;
            sp.Color = Colors.Black;
            sp.LegendText = manyShots ? $"mean of tasks ({group.Key}-shot)" : "mean of tasks";
        }
        plt.Axes.Bottom.SetTicks(lengths.Select(l => Math.Log10(l)).ToArray(), lengths.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray());
        double lo = Math.Log10(lengths[0]), hi = Math.Log10(lengths[^1]);
        double pad = Math.Max(0.05, (hi - lo) * 0.05);
        plt.Axes.SetLimits(lo - pad, hi + pad, 0, 105);
        plt.Title(title);
        plt.XLabel("input length cap (tokens, prompt + answer; log scale)");
        plt.YLabel("score (%)");
        plt.ShowLegend(Alignment.UpperLeft);
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, Width, Height));
        return true;
    }
}
