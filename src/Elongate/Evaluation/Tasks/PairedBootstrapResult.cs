namespace Elongate.Evaluation.Tasks;

/// <summary>A paired comparison of two models' per-item scores (A − B).</summary>
/// <param name="N">Paired items.</param>
/// <param name="MeanA">A's mean score.</param>
/// <param name="MeanB">B's mean score.</param>
/// <param name="Difference">Mean of A − B (= MeanA − MeanB).</param>
/// <param name="Lower">Lower end of the percentile bootstrap interval of the difference.</param>
/// <param name="Upper">Upper end.</param>
/// <param name="Confidence">The interval's nominal coverage (0.95).</param>
/// <param name="PValue">
/// Two-sided bootstrap fraction: 2 · min(share of resampled differences ≤ 0, share ≥ 0), capped at 1 — the smallest
/// 1 − confidence at which the percentile interval would exclude 0. Small means the sign of the difference is stable
/// under resampling of items; it is not an exact test.
/// </param>
/// <param name="Resamples">Bootstrap resamples drawn.</param>
/// <param name="Seed">The generator's seed (same seed and data → same interval).</param>
public sealed record PairedBootstrapResult(
    int N, double MeanA, double MeanB, double Difference, double Lower, double Upper, double Confidence, double PValue,
    int Resamples, int Seed);
