using System.Globalization;
using ScottPlot;
using Elongate.Common;

namespace Elongate.Experiments;

/// <summary>
/// The ablation's overlay charts (Figure 5b style): one line per model of loss, passkey accuracy and first-sentence
/// ROUGE-L against evaluated length (log-x, ticks in tokens), with the base and extended contexts marked.
/// </summary>
public static class ComparisonPlots
{
    public const string LossFile = "loss-by-length.png";
    public const string PasskeyFile = "passkey-by-length.png";
    public const string FirstSentenceFile = "first-sentence-by-length.png";
    public const string RepeatedTokensFile = "repeated-tokens-by-length.png";

    /// <summary>Writes whichever of the four charts have data; returns the file names written.</summary>
    public static List<string> Write(string outDir, IReadOnlyList<AblationVariant> variants, int baseContext)
    {
        var written = new List<string>();
        void One(string file, string title, string yLabel, Func<AblationScore, double?> pick, bool unitRange)
        {
            if (!variants.Any(v => v.Scores.Any(s => pick(s) is not null))) return;
            var plt = new Plot();
            var palette = new ScottPlot.Palettes.Category10();
            int i = 0;
            foreach (var v in variants)
            {
                var pts = v.Scores.Where(s => pick(s) is not null).ToList();
                var color = palette.GetColor(i++);
                if (pts.Count == 0) continue;
                var sp = plt.Add.Scatter(pts.Select(s => Math.Log10(s.Length)).ToArray(), pts.Select(s => pick(s)!.Value).ToArray());
                sp.LegendText = v.Name;
                sp.LineWidth = 2;
                sp.MarkerSize = 8;
                sp.Color = color;
            }
            var all = variants.SelectMany(v => v.Scores.Select(s => s.Length)).Distinct().Order().ToList();
            plt.Axes.Bottom.SetTicks(all.Select(l => Math.Log10(l)).ToArray(), all.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray());
            foreach (var ctx in variants.Select(v => v.TrainedContext).Distinct())
            {
                var line = plt.Add.VerticalLine(Math.Log10(ctx));
                line.LinePattern = LinePattern.Dashed;
                line.Color = Colors.Gray;
            }
            if (unitRange) plt.Axes.SetLimitsY(-0.05, 1.05);
            plt.Title(title);
            plt.XLabel($"context (tokens, log scale; dashed: trained lengths, base {baseContext})");
            plt.YLabel(yLabel);
            plt.ShowLegend();
            var path = Path.Combine(outDir, file);
            AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, 1100, 700));
            written.Add(file);
        }
        One(LossFile, "Held-out loss against context", "mean loss (nats/token)", s => s.Loss, false);
        One(PasskeyFile, "Passkey retrieval against context", "accuracy", s => s.Passkey, true);
        One(FirstSentenceFile, "First-sentence retrieval against context", "ROUGE-L F", s => s.FirstSentence, true);
        One(RepeatedTokensFile, "Repeated random tokens: copy from half the window back", "copy accuracy", s => s.RepeatedTokens, true);
        return written;
    }
}
