using Elongate.Evaluation;

namespace Elongate.Experiments;

/// <summary>One model's scores at one evaluated length.</summary>
/// <param name="Length">Tokens.</param>
/// <param name="Multiple">Length ÷ the base context.</param>
/// <param name="Loss">Mean loss (nats per token) over non-overlapping windows of this length.</param>
/// <param name="Passkey">Passkey accuracy; null when the prompt does not fit this length.</param>
/// <param name="FirstSentence">Mean ROUGE-L F of first-sentence retrieval; null when not evaluated at this length.</param>
/// <param name="PasskeyFirstDigit">Share of passkey answers whose first digit is the key's (chance 1/9); null when the prompt does not fit.</param>
/// <param name="RepeatedTokens">Copy accuracy on repeated random tokens (<see cref="RepeatedTokensEvaluation"/>: the second half of the window copied from half the window back); null when not evaluated.</param>
public sealed record AblationScore(int Length, double Multiple, double Loss, double? Passkey, double? FirstSentence, double? PasskeyFirstDigit = null, double? RepeatedTokens = null);

/// <summary>One model of the ablation: how it was made, its scores and the full evaluation reports.</summary>
/// <param name="SeedIndex">Which extension seed made it (0 … seeds − 1; the base model is 0).</param>
public sealed record AblationVariant(string Name, string Description, double RopeTheta, string? RopeScaling, int TrainedContext,
    int Steps, double? FinalTrainLoss, double? FinalValidationLoss, double TrainSeconds, double EvalSeconds,
    IReadOnlyList<AblationScore> Scores, LossCurveReport Loss, RetrievalReport? Passkey, RetrievalReport? FirstSentence, string RunDirectory,
    int SeedIndex = 0, RetrievalReport? RepeatedTokens = null)
{
    /// <summary>The name, with "/s&lt;k&gt;" for extension seeds after the first.</summary>
    public string Label => SeedIndex == 0 ? Name : $"{Name}/s{SeedIndex}";
}

/// <summary>A quantity over the seeds: mean, sample standard deviation (null with one seed), min, max and count.</summary>
public sealed record AblationStat(double Mean, double? Spread, double Min, double Max, int N)
{
    /// <summary>The statistic of <paramref name="values"/> (at least one).</summary>
    public static AblationStat Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        double mean = values.Average();
        double? sd = values.Count < 2 ? null : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new AblationStat(mean, sd, values.Min(), values.Max(), values.Count);
    }

    /// <summary>"3.214 ± 0.012" (or the mean alone with one seed).</summary>
    public string Format(string format) => Spread is { } s
        ? Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + " ± " + s.ToString(format, System.Globalization.CultureInfo.InvariantCulture)
        : Mean.ToString(format, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One variant's scores at one length over its seeds.</summary>
public sealed record AblationSummaryScore(int Length, double Multiple, AblationStat Loss, AblationStat? Passkey, AblationStat? FirstSentence, AblationStat? PasskeyFirstDigit = null,
    AblationStat? RepeatedTokens = null);

/// <summary>One variant over its seeds: scores by length, the power-law β, and retrieval beyond the base's trained length.</summary>
/// <param name="PasskeyBeyondBase">Per seed, the mean passkey accuracy at lengths beyond the base context, over the seeds.</param>
public sealed record AblationSummary(string Name, string Description, double RopeTheta, int TrainedContext, int Seeds,
    IReadOnlyList<AblationSummaryScore> Scores, AblationStat? Beta, AblationStat? PasskeyBeyondBase, AblationStat? FirstSentenceBeyondBase,
    AblationStat? PasskeyFirstDigitBeyondBase = null, AblationStat? RepeatedTokensBeyondBase = null);

/// <summary>One of the paper's claims, judged from the numbers and their spread.</summary>
/// <param name="Claim">The claim in words.</param>
/// <param name="Verdict">holds, tie within spread, reversed, does not hold or not testable.</param>
/// <param name="Evidence">The numbers behind the verdict.</param>
public sealed record AblationClaim(string Claim, string Verdict, string Evidence);

/// <summary>How the base model's RoPE θ was chosen and what it does, beside Llama 2's (see <see cref="Rope.ScaledRopeBase"/>).</summary>
public sealed record ThetaDerivation(int HeadDim, int TrainedLength, int ExtendedLength, double Theta, bool Derived, double AbfTheta,
    double LongestWavelength, double WavelengthOverTrained, double WavelengthOverExtended,
    double ReferenceWavelengthOverTrained, double ReferenceWavelengthOverExtended,
    IReadOnlyList<double> Relative, IReadOnlyList<double> ReferenceDecay, IReadOnlyList<double> MiniatureDecay, IReadOnlyList<double> Theta10000Decay,
    IReadOnlyList<double> ReferenceAbfDecay, IReadOnlyList<double> MiniatureAbfDecay);

/// <summary>The synthetic retrieval share of the training data.</summary>
/// <param name="BasePasskeyDistances">Distances (tokens from needle to answer) of the base stage's passkey documents: median, 90th percentile and largest; null when it has none.</param>
/// <param name="ExtendPasskeyDistances">The same for the extension stage.</param>
public sealed record RetrievalMixSummary(double Share, int FillerSentences, int BaseDocuments, long BaseTokens, int BaseMaxLength,
    int ExtendDocuments, long ExtendTokens, int ExtendMaxLength, IReadOnlyDictionary<string, int> BaseKinds,
    DistanceQuantiles? BasePasskeyDistances, DistanceQuantiles? ExtendPasskeyDistances);

/// <summary>Quantiles of a set of distances in tokens.</summary>
public sealed record DistanceQuantiles(int Median, int P90, int Max, int Count)
{
    /// <summary>The quantiles of <paramref name="distances"/> (nearest rank); null when there are none.</summary>
    public static DistanceQuantiles? Of(IEnumerable<int> distances)
    {
        var d = distances.Order().ToArray();
        if (d.Length == 0) return null;
        int Rank(double q) => d[Math.Clamp((int)Math.Ceiling(q * d.Length) - 1, 0, d.Length - 1)];
        return new DistanceQuantiles(Rank(0.5), Rank(0.9), d[^1], d.Length);
    }
}

/// <summary>How far back the key sits in one passkey probe cell: tokens from the needle to the answer.</summary>
public sealed record PasskeyDistance(int Length, double Depth, int Tokens);

/// <summary>The measured ordering of the variants' loss at one length and whether it matches the paper's.</summary>
/// <param name="Length">Tokens.</param>
/// <param name="Multiple">Length ÷ base context.</param>
/// <param name="Ordering">Variants from lowest to highest loss, e.g. "abf (2.10) &lt; pi (2.31) &lt; rope (2.95)".</param>
/// <param name="MatchesPaper">ABF ≤ PI &lt; RoPE at this length; null when one of the three was not run.</param>
/// <param name="AbfAtMostPi">The first half of the paper's claim, ABF ≤ PI (null when either was not run).</param>
/// <param name="PiBelowRope">The second half, PI &lt; RoPE unchanged (null when either was not run).</param>
public sealed record AblationOrdering(int Length, double Multiple, string Ordering, bool? MatchesPaper, bool? AbfAtMostPi = null, bool? PiBelowRope = null);

/// <summary>Whether a model's retrieval collapses past the length it was trained at.</summary>
/// <param name="Variant">Model.</param>
/// <param name="Task">passkey, first-sentence or repeated-token copy.</param>
/// <param name="WithinTrained">Best score at lengths ≤ its trained context.</param>
/// <param name="BeyondTrained">Mean score at lengths beyond it.</param>
/// <param name="Collapses">Beyond ≤ half of within (and within &gt; 0); null when there is nothing to compare.</param>
public sealed record AblationCollapse(string Variant, string Task, double? WithinTrained, double? BeyondTrained, bool? Collapses);

/// <summary>Everything results.json holds.</summary>
/// <param name="RepeatedTokensChance">Chance of the repeated-token copy: 1 / the tokenizer's normal pieces.</param>
public sealed record RopeAblationResult(RopeAblationOptions Settings, string Corpus, string Tokenizer, int VocabSize, string ModelSummary,
    IReadOnlyList<int> Lengths, IReadOnlyList<AblationVariant> Variants, IReadOnlyList<AblationOrdering> LongContextOrdering,
    IReadOnlyList<AblationCollapse> RetrievalCollapse, string Conclusion, IReadOnlyDictionary<string, double> PhaseSeconds, double TotalSeconds,
    string EvalCorpus, ThetaDerivation Theta, RetrievalMixSummary? RetrievalMix, IReadOnlyList<AblationSummary> Summaries, IReadOnlyList<AblationClaim> Claims,
    IReadOnlyList<PasskeyDistance> PasskeyDistances, double RepeatedTokensChance = double.NaN);
