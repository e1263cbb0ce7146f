using ScottPlot;
using Elongate.Common;
using Elongate.Training;

namespace Elongate.Experiments;

/// <summary>
/// The curriculum experiment's charts: training loss against tokens for each curriculum of the first seed (the
/// paper's Figure 6: how fast a model adapts after the switch), and held-out long-context loss against training FLOPs
/// for every model (Table 10 as a picture: lower and further left is better).
/// </summary>
public static class CurriculumPlots
{
    public const string TrainingLossFile = "training-loss.png";
    public const string LossVsFlopsFile = "loss-vs-flops.png";

    /// <summary>Writes both charts into <paramref name="outDir"/> from the runs' metrics and scores.</summary>
    public static void Write(string outDir, IReadOnlyList<CurriculumRun> runs, CurriculumOptions o)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var names = runs.Select(r => r.Variant).Distinct().ToList();
        var seed = runs[0].Seed;
        var plt = new Plot();
        foreach (var r in runs.Where(r => r.Seed == seed))
        {
            var seedDir = Path.Combine(outDir, "runs", $"seed-{seed}");
            var points = new List<TrainingMetrics>();
            if (r.SwitchAt > 0)
            {
                int k = r.Stages[0].Steps;
                points.AddRange(LossCurvePlot.ReadMetrics(Path.Combine(seedDir, "short", Trainer.MetricsFileName)).Where(m => m.Step <= k));
            }
            points.AddRange(LossCurvePlot.ReadMetrics(Path.Combine(outDir, r.RunDirectory, Trainer.MetricsFileName)));
            points = points.Where(m => float.IsFinite(m.Loss)).ToList();
            if (points.Count == 0) continue;
            var line = plt.Add.ScatterLine(points.Select(m => m.Tokens / 1e6).ToArray(), points.Select(m => (double)m.Loss).ToArray());
            line.LegendText = r.Variant;
            line.Color = palette.GetColor(names.IndexOf(r.Variant));
            line.LineWidth = 1.5f;
        }
        plt.Title($"Training loss (seed {seed}): {o.ShortLength} then {o.LongLength} tokens per sequence, or {o.LongLength} throughout");
        plt.XLabel("tokens trained (millions)");
        plt.YLabel("training loss (nats/token) at the sequence length of the step");
        plt.ShowLegend(Alignment.UpperRight);
        AtomicFile.WriteVia(Path.Combine(outDir, TrainingLossFile), tmp => plt.SavePng(tmp, 1100, 700));

        var scratchFlops = runs.First(r => r.SwitchAt == 0).Flops;
        var p2 = new Plot();
        foreach (var name in names)
        {
            var mine = runs.Where(r => r.Variant == name).ToList();
            var sp = p2.Add.Scatter(mine.Select(r => r.Flops / scratchFlops).ToArray(), mine.Select(r => r.LongLoss).ToArray());
            sp.LineWidth = 0;
            sp.MarkerSize = 10;
            sp.LegendText = name;
            sp.Color = palette.GetColor(names.IndexOf(name));
        }
        p2.Title($"Held-out loss at {o.LongLength} tokens against training compute (one point per seed)");
        p2.XLabel("training FLOPs ÷ from scratch at the long length");
        p2.YLabel($"loss in {o.LongLength}-token windows (nats/token)");
        p2.ShowLegend(Alignment.UpperRight);
        AtomicFile.WriteVia(Path.Combine(outDir, LossVsFlopsFile), tmp => p2.SavePng(tmp, 1100, 700));
    }
}
