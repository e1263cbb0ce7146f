using Elongate.Common;

namespace Elongate.Rope;

/// <summary>
/// The RoPE base θ that makes a small model's positions behave, relative to its context, as Llama 2's do at
/// 4,096 → 32,768 tokens (head dim 128, θ = 10,000): the longest wavelength 2π·θ^((d−2)/d) is kept at the same
/// multiple of the trained length (13.28×, so 1.66× the 8× extended length).
/// </summary>
/// <remarks>
/// Derivation. Pair j of a head of dimension d rotates at θ^(−2j/d) radians per position, j = 0 … d/2 − 1; the
/// slowest pair, j = d/2 − 1, has wavelength λ(θ, d) = 2π·θ^((d−2)/d). For Llama 2, λ(10⁴, 128) = 2π·10^(4·126/128)
/// = 2π·8,659.6 = 54,410 tokens = 13.284 × 4,096 = 1.660 × 32,768. Asking the same of a head of dimension d trained
/// at L tokens, 2π·θ^((d−2)/d) = 13.284·L, gives θ = (13.284·L / 2π)^(d/(d−2)); for d = 32, L = 256:
/// (3,400.6 / 2π)^(32/30) = 541.22^1.0667 = 823.4. Only one quantity can be matched with one free θ: the decay
/// curve (<see cref="RopeAnalysis.DecayBound"/>, normalised by √d) of the small head then follows Llama 2's at the
/// same relative distances Δ/L from about 0.5× on (0.056 against 0.037 at 1×, 0.008 against −0.004 at 8×, averaged
/// over ±10% of Δ; see <see cref="RelativeDecay"/>), while θ = 10,000 at d = 32 leaves it at 0.29 at 1× and 0.13 at 8× — far from the limit the paper hits.
/// Its fastest pairs differ (a small head has fewer of them), which shows at Δ &lt; 0.5 L.
/// </remarks>
public static class ScaledRopeBase
{
    /// <summary>Llama 2's head dimension, RoPE base and trained context: the reference the miniature keeps the ratios of.</summary>
    public const int ReferenceHeadDim = 128;
    public const double ReferenceTheta = 10_000;
    public const int ReferenceLength = 4_096;

    /// <summary>Wavelength in tokens of the slowest rotating pair: 2π·θ^((d−2)/d).</summary>
    public static double LongestWavelength(double theta, int headDim)
    {
        Check(theta, headDim);
        return 2 * Math.PI * Math.Pow(theta, (headDim - 2) / (double)headDim);
    }

    /// <summary>
    /// θ whose longest wavelength is the same multiple of <paramref name="trainedLength"/> as the reference's is of
    /// its trained length (see the class remarks). The reference defaults to Llama 2 at 4,096 tokens.
    /// </summary>
    public static double MatchLongestWavelength(int headDim, int trainedLength,
        int referenceHeadDim = ReferenceHeadDim, double referenceTheta = ReferenceTheta, int referenceLength = ReferenceLength)
    {
        Check(referenceTheta, referenceHeadDim);
        if (headDim < 4 || headDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "head dimension must be even and ≥ 4");
        if (trainedLength < 1) throw new ArgumentOutOfRangeException(nameof(trainedLength), trainedLength, "must be ≥ 1");
        if (referenceLength < 1) throw new ArgumentOutOfRangeException(nameof(referenceLength), referenceLength, "must be ≥ 1");
        double ratio = LongestWavelength(referenceTheta, referenceHeadDim) / referenceLength;
        return Math.Pow(ratio * trainedLength / (2 * Math.PI), headDim / (double)(headDim - 2));
    }

    /// <summary>
    /// The decay bound normalised to 1 at Δ = 0 (score(Δ)/√d), at relative distances x = Δ/L, each averaged over
    /// Δ in [x·L·(1 − window), x·L·(1 + window)] so the fast oscillation does not hide the trend.
    /// </summary>
    public static double[] RelativeDecay(double theta, int headDim, int trainedLength, IReadOnlyList<double> relative, double window = 0.1)
    {
        Check(theta, headDim);
        var inv = Enumerable.Range(0, headDim / 2).Select(j => Math.Pow(theta, -2.0 * j / headDim)).ToArray();
        return relative.Select(x =>
        {
            int lo = (int)Math.Round(x * trainedLength * (1 - window)), hi = (int)Math.Round(x * trainedLength * (1 + window));
            double sum = 0;
            for (int delta = lo; delta <= hi; delta++)
            {
                double s = 0;
                foreach (double t in inv) s += Math.Cos(delta * t);
                sum += s / inv.Length;
            }
            return sum / (hi - lo + 1);
        }).ToArray();
    }

    /// <summary>
    /// Plots normalised decay curves against relative distance Δ/L (each curve its own L), from 0 to
    /// <paramref name="maxRelative"/>, to a PNG (temp file + rename).
    /// </summary>
    public static void WriteRelativeDecayPng(string path, IReadOnlyList<(string Label, double Theta, int HeadDim, int TrainedLength)> curves, double maxRelative, string title)
    {
        var plt = new ScottPlot.Plot();
        foreach (var (label, theta, d, l) in curves)
        {
            int n = (int)Math.Ceiling(maxRelative * l);
            var raw = RopeAnalysis.DecayBound(Enumerable.Range(0, d / 2).Select(j => Math.Pow(theta, -2.0 * j / d)).ToArray(), n);
            // Thin long curves to about 4,000 points: the picture is the same and the PNG stays small.
            int step = Math.Max(1, n / 4000);
            var xs = new List<double>();
            var ys = new List<double>();
            for (int i = 0; i <= n; i += step) { xs.Add((double)i / l); ys.Add(raw[i] / Math.Sqrt(d)); }
            var sp = plt.Add.ScatterLine(xs.ToArray(), ys.ToArray());
            sp.LegendText = label;
            sp.LineWidth = 1.5f;
        }
        plt.Title(title);
        plt.XLabel("relative distance Δ / trained length");
        plt.YLabel("score(Δ) / √d");
        plt.ShowLegend(ScottPlot.Alignment.UpperRight);
        plt.Axes.SetLimitsX(0, maxRelative);
        AtomicFile.WriteVia(path, tmp => plt.SavePng(tmp, 1200, 700));
    }

    private static void Check(double theta, int headDim)
    {
        if (!(theta > 1) || !double.IsFinite(theta)) throw new ArgumentOutOfRangeException(nameof(theta), theta, "RoPE base must be > 1");
        if (headDim < 4 || headDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "head dimension must be even and ≥ 4");
    }
}
