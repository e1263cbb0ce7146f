using System.Globalization;
using Elongate.Common;
using ScottPlot;

namespace Elongate.Data;

/// <summary>The self-instruct report's chart: where the evidence chunk starts within each kept example's document.</summary>
public static class SelfInstructPlots
{
    /// <summary>Writes the evidence-position histogram of <paramref name="report"/> as a PNG, atomically.</summary>
    public static void WriteEvidenceHistogram(string path, SelfInstructReport report)
    {
        var plt = new Plot();
        var bins = report.EvidencePositionHistogram;
        var bars = plt.Add.Bars(Enumerable.Range(0, bins.Count).Select(i => (i + 0.5) / bins.Count).ToArray(), bins.Select(b => (double)b).ToArray());
        foreach (var bar in bars.Bars) bar.Size = 0.9 / bins.Count;
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, bins.Count + 1).Select(i => (double)i / bins.Count).ToArray(),
            Enumerable.Range(0, bins.Count + 1).Select(i => ((double)i / bins.Count).ToString("0.0", CultureInfo.InvariantCulture)).ToArray());
        plt.Title($"evidence position in the training context ({report.Kept} examples kept)");
        plt.XLabel("start of the evidence chunk / tokens of the document in the example");
        plt.YLabel("examples");
        plt.Axes.Margins(bottom: 0);
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, 900, 500));
    }
}
