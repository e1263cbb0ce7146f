using System.Globalization;
using System.Text;
using Elongate.Common;

namespace Elongate.Rope;

/// <summary>
/// The analysis of "Effective Long-Context Scaling of Foundation Models" (Xiong et al. 2023, arXiv 2309.16039) as
/// functions: Figure 4's attention-score decay curve and Theorem 1's granularity of consecutive position embeddings.
/// </summary>
public static class RopeAnalysis
{
    /// <summary>
    /// Figure 4: the RoPE attention score of an all-ones query and key at relative distance Δ, scaled as attention is
    /// (1/√d): score(Δ) = (2/√d)·Σ_j cos(Δ·θ_j) with d = 2·invFreq.Length, for Δ = 0..maxDelta. score(0) = √d.
    /// </summary>
    public static double[] DecayBound(double[] invFreq, int maxDelta)
    {
        ArgumentNullException.ThrowIfNull(invFreq);
        if (invFreq.Length == 0) throw new ArgumentException("need at least one frequency", nameof(invFreq));
        if (maxDelta < 0) throw new ArgumentOutOfRangeException(nameof(maxDelta), maxDelta, "must be ≥ 0");
        double scale = 2.0 / Math.Sqrt(2.0 * invFreq.Length);
        var r = new double[maxDelta + 1];
        for (int delta = 0; delta <= maxDelta; delta++)
        {
            double sum = 0;
            foreach (double t in invFreq) sum += Math.Cos(delta * t);
            r[delta] = scale * sum;
        }
        return r;
    }

    /// <summary>First Δ at which <paramref name="curve"/> falls below half its value at Δ = 0, or −1 if it never does.</summary>
    public static int FirstBelowHalf(double[] curve)
    {
        for (int i = 0; i < curve.Length; i++) if (curve[i] < curve[0] / 2) return i;
        return -1;
    }

    /// <summary>
    /// Theorem 1's granularity in the paper's closed form: the mean angle by which consecutive position embeddings
    /// differ, averaged over a continuous spectrum of frequencies θ(u) = b^(−u)/s, u ∈ [0, 1] (the d → ∞ limit of the
    /// d/2 RoPE pairs): ∫₀¹ b^(−u)/s du = (1 − 1/b)/(s·ln b). For one rotated pair of unit norm the embedding moves by
    /// |e^(iθ) − 1| = 2 sin(θ/2) ≈ θ per position, so this is the typical gap between neighbouring positions.
    /// ABF (b = 500,000, s = 1) gives 0.0762; PI (b = 10,000, s = 4) gives 0.0271: ABF keeps neighbouring positions
    /// about 2.8× further apart, which is the paper's argument for ABF over PI.
    /// </summary>
    public static double Granularity(double ropeBase, double factor = 1.0)
    {
        if (!(ropeBase > 1) || !double.IsFinite(ropeBase)) throw new ArgumentOutOfRangeException(nameof(ropeBase), ropeBase, "base must be > 1");
        if (!(factor > 0) || !double.IsFinite(factor)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be > 0");
        return (1 - 1 / ropeBase) / (factor * Math.Log(ropeBase));
    }

    /// <summary>
    /// The same granularity for a concrete, finite set of frequencies (any scaling type): the mean of
    /// θ'_i over the d/2 pairs (as the angle; <see cref="GranularityChord"/> gives the exact chord length).
    /// </summary>
    public static double GranularityDiscrete(double[] invFreq) => invFreq.Average();

    /// <summary>Exact mean distance between consecutive positions for unit-norm pairs: mean of 2·sin(θ'_i/2).</summary>
    public static double GranularityChord(double[] invFreq) => invFreq.Average(t => 2 * Math.Sin(t / 2));

    /// <summary>
    /// Parses a scaling spec of the form <c>type[:factor[:L]]</c> (e.g. <c>linear:4</c>, <c>yarn:4:4096</c>,
    /// <c>llama3:8:8192</c>); L defaults to 4096 (Llama 2) where the type needs it. Throws
    /// <see cref="FormatException"/> with the accepted forms on a bad spec.
    /// </summary>
    public static RopeScaling ParseScaling(string spec)
    {
        var parts = spec.Split(':');
        string type = parts[0].Trim().ToLowerInvariant();
        if (type is "pi") type = RopeTypes.Linear;
        if (!RopeTypes.Table.ContainsKey(type))
            throw new FormatException($"unknown scaling type '{parts[0]}' in '{spec}'; use type[:factor[:L]] with type one of {string.Join(", ", RopeTypes.Names)}");
        double factor = 1;
        if (parts.Length > 1 && !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out factor))
            throw new FormatException($"bad factor '{parts[1]}' in '{spec}'");
        int? l = null;
        if (parts.Length > 2)
            l = int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out int lv) ? lv : throw new FormatException($"bad original context '{parts[2]}' in '{spec}'");
        if (parts.Length > 3) throw new FormatException($"too many ':' parts in '{spec}'");
        if (type is RopeTypes.Dynamic or RopeTypes.Yarn or RopeTypes.Llama3) l ??= 4096;
        if (type == RopeTypes.LongRope) throw new FormatException("longrope needs per-pair factor arrays; it cannot be given on the command line");
        var s = new RopeScaling { Type = type, Factor = factor, OriginalContext = l };
        s.Validate($"--scaling {spec}");
        return s;
    }

    /// <summary>Writes decay curves as CSV (delta, one column per curve), via a temp file and rename.</summary>
    public static void WriteDecayCsv(string path, IReadOnlyList<(string Label, double[] Curve)> curves)
    {
        var sb = new StringBuilder("delta");
        foreach (var (label, _) in curves) sb.Append(',').Append('"').Append(label.Replace("\"", "\"\"")).Append('"');
        sb.Append('\n');
        int n = curves.Count == 0 ? 0 : curves.Max(c => c.Curve.Length);
        for (int i = 0; i < n; i++)
        {
            sb.Append(i.ToString(CultureInfo.InvariantCulture));
            foreach (var (_, c) in curves) sb.Append(',').Append(i < c.Length ? c[i].ToString("R", CultureInfo.InvariantCulture) : "");
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Plots decay curves (Figure 4 style) to a PNG with ScottPlot, via a temp file and rename.</summary>
    public static void WriteDecayPng(string path, IReadOnlyList<(string Label, double[] Curve)> curves, int rotaryDim)
    {
        var plt = new ScottPlot.Plot();
        foreach (var (label, c) in curves)
        {
            var xs = Enumerable.Range(0, c.Length).Select(i => (double)i).ToArray();
            var sp = plt.Add.ScatterLine(xs, c);
            sp.LegendText = label;
            sp.LineWidth = 2;
        }
        double half = Math.Sqrt(rotaryDim) / 2;
        var hl = plt.Add.HorizontalLine(half);
        hl.LinePattern = ScottPlot.LinePattern.Dashed;
        hl.LegendText = $"half of √d = {half:F2}";
        plt.Title($"RoPE attention-score decay, all-ones q and k (d = {rotaryDim})");
        plt.XLabel("relative distance Δ");
        plt.YLabel("(2/√d)·Σ cos(Δ·θ_j)");
        plt.ShowLegend(ScottPlot.Alignment.UpperRight);
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, 1200, 700));
    }
}
