using System.Text.Json;
using Elongate.Common;

namespace Elongate.Training;

/// <summary>The loss-curve PNG written at the end of a run: training loss per step and validation loss where measured.</summary>
public static class LossCurvePlot
{
    /// <summary>Reads metrics.jsonl (so a resumed run plots its whole history).</summary>
    public static List<TrainingMetrics> ReadMetrics(string metricsPath)
    {
        var list = new List<TrainingMetrics>();
        if (!File.Exists(metricsPath)) return list;
        foreach (var line in File.ReadLines(metricsPath))
            if (!string.IsNullOrWhiteSpace(line)) list.Add(JsonSerializer.Deserialize<TrainingMetrics>(line, TrainingMetrics.Json)!);
        return list;
    }

    /// <summary>Writes the PNG through a temp file and rename.</summary>
    public static void Write(string path, IReadOnlyList<TrainingMetrics> metrics, string title)
    {
        var plt = new ScottPlot.Plot();
        // Skipped batches may carry a NaN or infinite loss: they are gaps in the curve, not points.
        metrics = metrics.Where(m => float.IsFinite(m.Loss)).ToList();
        if (metrics.Count > 0)
        {
            var train = plt.Add.ScatterLine(metrics.Select(m => (double)m.Step).ToArray(), metrics.Select(m => (double)m.Loss).ToArray());
            train.LegendText = "train";
            var val = metrics.Where(m => m.ValidationLoss is not null).ToArray();
            if (val.Length > 0)
            {
                var v = plt.Add.Scatter(val.Select(m => (double)m.Step).ToArray(), val.Select(m => (double)m.ValidationLoss!.Value).ToArray());
                v.LegendText = "validation";
                v.MarkerSize = 7;
            }
        }
        plt.Title(title);
        plt.XLabel("step");
        plt.YLabel("cross-entropy (nats/token)");
        plt.ShowLegend(ScottPlot.Alignment.UpperRight);
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, 1000, 600));
    }
}
