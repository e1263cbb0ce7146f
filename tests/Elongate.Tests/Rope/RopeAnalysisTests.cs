using Elongate.Rope;
using Elongate.Common;

namespace Elongate.Tests.Rope;

/// <summary>The LLaMA 2 Long paper's analysis (Xiong et al. 2023, arXiv 2309.16039): Figure 4 and Theorem 1.</summary>
public class RopeAnalysisTests
{
    [Fact]
    public void DecayCurve_Llama2_StartsAtSqrtD_AndHalvesAt46And166()
    {
        var b10k = RopeAnalysis.DecayBound(RopeTypes.Compute(10000, 128).InverseFrequencies, 1000);
        var b500k = RopeAnalysis.DecayBound(RopeTypes.Compute(500000, 128).InverseFrequencies, 1000);
        Assert.Equal(Math.Sqrt(128), b10k[0], 12);
        Assert.Equal(11.31, b10k[0], 2);
        Assert.Equal(46, RopeAnalysis.FirstBelowHalf(b10k));
        Assert.Equal(166, RopeAnalysis.FirstBelowHalf(b500k));
        // Δ = 1 by hand: (2/√128)·Σ cos(θ_j).
        double manual = 2 / Math.Sqrt(128) * Enumerable.Range(0, 64).Sum(j => Math.Cos(Math.Pow(10000, -2.0 * j / 128)));
        Assert.Equal(manual, b10k[1], 12);
    }

    [Fact]
    public void Granularity_ReproducesPaperNumbers()
    {
        // ABF: b = 500,000 → ≈ 0.076; PI: b = 10,000, s = 4 → ≈ 0.027 (Theorem 1, d → ∞ closed form).
        Assert.Equal(0.076, RopeAnalysis.Granularity(500000), 3);
        Assert.Equal(0.027, RopeAnalysis.Granularity(10000, 4), 3);
        // The closed form is the d → ∞ limit of the per-pair mean: at d = 4096 it is within 0.5%.
        double discrete = RopeAnalysis.GranularityDiscrete(RopeTypes.Compute(500000, 4096).InverseFrequencies);
        Assert.True(Math.Abs(discrete / RopeAnalysis.Granularity(500000) - 1) < 0.005, $"{discrete}");
        // Linear scaling divides granularity by s exactly, in both forms.
        var pi = RopeTypes.Compute(10000, 128, new RopeScaling { Type = "linear", Factor = 4 }).InverseFrequencies;
        Assert.Equal(RopeAnalysis.GranularityDiscrete(RopeTypes.Compute(10000, 128).InverseFrequencies) / 4, RopeAnalysis.GranularityDiscrete(pi), 14);
    }

    [Fact]
    public void ParseScaling_AcceptsAndRejects()
    {
        Assert.Equal(new RopeScaling { Type = "linear", Factor = 4 }, RopeAnalysis.ParseScaling("linear:4"));
        Assert.Equal(new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 8192 }, RopeAnalysis.ParseScaling("yarn:4:8192"));
        Assert.Equal(4096, RopeAnalysis.ParseScaling("dynamic:2").OriginalContext);
        Assert.Throws<FormatException>(() => RopeAnalysis.ParseScaling("warp:4"));
        Assert.Throws<FormatException>(() => RopeAnalysis.ParseScaling("linear:x"));
        Assert.Throws<Elongate.Common.ModelFormatException>(() => RopeAnalysis.ParseScaling("linear:0.5"));
    }

    [Fact]
    public void DecayFiles_CsvAndPng()
    {
        var dir = Directory.CreateTempSubdirectory("rope-decay-");
        try
        {
            var curves = new List<(string, double[])>
            {
                ("b=10000", RopeAnalysis.DecayBound(RopeTypes.Compute(10000, 128).InverseFrequencies, 200)),
                ("b=500000", RopeAnalysis.DecayBound(RopeTypes.Compute(500000, 128).InverseFrequencies, 200)),
            };
            var csv = Path.Combine(dir.FullName, "d.csv");
            var png = Path.Combine(dir.FullName, "d.png");
            RopeAnalysis.WriteDecayCsv(csv, curves);
            RopeAnalysis.WriteDecayPng(png, curves, 128);
            var lines = File.ReadAllLines(csv);
            Assert.Equal("delta,\"b=10000\",\"b=500000\"", lines[0]);
            Assert.Equal(202, lines.Length);
            Assert.StartsWith("0,11.3137084989847", lines[1]);
            var bytes = File.ReadAllBytes(png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            Assert.Empty(Directory.GetFiles(dir.FullName, "*.tmp*"));
        }
        finally { dir.Delete(true); }
    }
}
