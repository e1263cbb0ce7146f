using System.Globalization;
using ScottPlot;
using Elongate.Common;

namespace Elongate.Evaluation;

/// <summary>
/// PNG charts of evaluation results (ScottPlot 5), each written to a temp file and renamed into place. Context axes
/// are logarithmic: values are plotted as log₁₀ c with ticks labelled in tokens at powers of two.
/// </summary>
public static class EvalPlots
{
    private const int Width = 1100, Height = 700;

    /// <summary>Loss against context: every length's position buckets as points, mean loss per length, and both fits.</summary>
    public static void WriteLossCurve(string path, LossCurveReport report, string title)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double minC = double.MaxValue, maxC = 1;
        for (int i = 0; i < report.Lengths.Count; i++)
        {
            var r = report.Lengths[i];
            if (r.Buckets.Count == 0) continue;
            var xs = r.Buckets.Select(b => Math.Log10((b.From + 1 + b.To) / 2.0)).ToArray();
            var ys = r.Buckets.Select(b => b.MeanLoss).ToArray();
            var sp = plt.Add.Scatter(xs, ys);
            sp.LineWidth = 1;
            sp.LinePattern = LinePattern.Dotted;
            sp.MarkerSize = 8;
            sp.Color = palette.GetColor(i);
            sp.LegendText = $"L = {r.Length}: loss by position";
            minC = Math.Min(minC, (r.Buckets[0].From + 1 + r.Buckets[0].To) / 2.0);
            maxC = Math.Max(maxC, r.Length);
        }
        var means = report.ByLength.Points;
        if (means.Count > 0)
        {
            var sp = plt.Add.Scatter(means.Select(p => Math.Log10(p.Context)).ToArray(), means.Select(p => p.Loss).ToArray());
            sp.LineWidth = 0;
            sp.MarkerSize = 12;
            sp.MarkerShape = MarkerShape.FilledDiamond;
            sp.Color = Colors.Black;
            sp.LegendText = "mean loss of each length (at c = L)";
            minC = Math.Min(minC, means.Min(p => p.Context));
            maxC = Math.Max(maxC, means.Max(p => p.Context));
        }
        if (minC == double.MaxValue) minC = 1;
        AddFitCurve(plt, report.ByPosition, minC, maxC, Colors.Red, LinePattern.Solid);
        AddFitCurve(plt, report.ByLength, minC, maxC, Colors.Gray, LinePattern.Dashed);
        LogTicks(plt, minC, maxC);
        plt.Title(title);
        plt.XLabel("context c (tokens before the predicted one; log scale)");
        plt.YLabel("cross-entropy loss (nats)");
        plt.ShowLegend(Alignment.UpperRight);
        Save(plt, path);
    }

    private static void AddFitCurve(Plot plt, LossFit fit, double minC, double maxC, Color color, LinePattern pattern)
    {
        if (fit.Fit is not { } f) return;
        double lo = Math.Log10(minC), hi = Math.Log10(maxC);
        var xs = Enumerable.Range(0, 200).Select(i => lo + (hi - lo) * i / 199.0).ToArray();
        var ys = xs.Select(x => f.Evaluate(Math.Pow(10, x))).ToArray();
        var line = plt.Add.Scatter(xs, ys);
        line.MarkerSize = 0;
        line.LineWidth = 2;
        line.Color = color;
        line.LinePattern = pattern;
        line.LegendText = string.Create(CultureInfo.InvariantCulture,
            $"fit, {fit.Basis}: ({f.Alpha:G4}/c)^{f.Beta:G4} + {f.Gamma:G4}, R² = {f.RSquared:F3}");
    }

    /// <summary>Ticks at powers of two between the bounds, labelled in tokens, for an axis that holds log₁₀ values.</summary>
    private static void LogTicks(Plot plt, double minC, double maxC)
    {
        var ticks = new List<double>();
        for (double p = 1; p <= maxC * 1.001; p *= 2) if (p >= minC / 2) ticks.Add(p);
        if (ticks.Count > 12) ticks = ticks.Where((_, i) => i % 2 == (ticks.Count - 1) % 2).ToList();
        plt.Axes.Bottom.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => t.ToString("0", CultureInfo.InvariantCulture)).ToArray());
        double pad = Math.Max(0.05, (Math.Log10(maxC) - Math.Log10(minC)) * 0.04);
        plt.Axes.SetLimitsX(Math.Log10(minC) - pad, Math.Log10(maxC) + pad);
    }

    /// <summary>
    /// A lengths × depths heatmap of cell scores in [0, 1], length on x, depth on y (0 at the top, as the text
    /// reads), each cell labelled with its value.
    /// </summary>
    public static void WriteHeatmap(string path, RetrievalReport report, string title)
    {
        int rows = report.Depths.Count, cols = report.Lengths.Count;
        var data = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                data[r, c] = report.ScoreAt(report.Lengths[c], report.Depths[r]);
        var plt = new Plot();
        var hm = plt.Add.Heatmap(data);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0, 1);
        // Row 0 is drawn at the top: cell (r, c) spans x ∈ [c − ½, c + ½], y ∈ [rows − 1 − r ± ½].
        hm.Rectangle = new CoordinateRect(-0.5, cols - 0.5, -0.5, rows - 0.5);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double v = data[r, c];
                var label = plt.Add.Text(double.IsNaN(v) ? "–" : v.ToString("0.00", CultureInfo.InvariantCulture), c, rows - 1 - r);
                label.LabelFontSize = 16;
                label.LabelBold = true;
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = v > 0.6 ? Colors.Black : Colors.White;
            }
        // The colour bar is unlabelled (ScottPlot draws its label over the tick labels); titles name the metric.
        plt.Add.ColorBar(hm);
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, cols).Select(i => (double)i).ToArray(),
            report.Lengths.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(),
            report.Depths.Select(d => d.ToString("0%", CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
        plt.Title(title);
        plt.XLabel("prompt length (tokens)");
        plt.YLabel("depth in the text");
        Save(plt, path);
    }

    /// <summary>Score against prompt length (log-x), one point per length, for tasks without depth.</summary>
    public static void WriteScoreByLength(string path, RetrievalReport report, string title, string yLabel)
    {
        var plt = new Plot();
        var xs = report.Lengths.Select(l => Math.Log10(l)).ToArray();
        var ys = report.Lengths.Select(l => report.ScoreAt(l, null)).ToArray();
        var sp = plt.Add.Scatter(xs, ys);
        sp.LineWidth = 2;
        sp.MarkerSize = 10;
        sp.LegendText = report.Metric;
        LogTicks(plt, report.Lengths.Min(), report.Lengths.Max());
        plt.Axes.SetLimitsY(0, 1.05);
        plt.Title(title);
        plt.XLabel("prompt length (tokens; log scale)");
        plt.YLabel(yLabel);
        Save(plt, path);
    }

    private static void Save(Plot plt, string path)
    {
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, Width, Height));
    }
}
