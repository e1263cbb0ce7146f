using Elongate.Evaluation;

namespace Elongate.Experiments;

/// <summary>One model's scores at one evaluated length.</summary>
/// <param name="Length">Tokens.</param>
/// <param name="Multiple">Length ÷ the base context.</param>
/// <param name="Loss">Mean loss (nats per token) over non-overlapping windows of this length.</param>
/// <param name="Passkey">Passkey accuracy; null when the prompt does not fit this length.</param>
/// <param name="FirstSentence">Mean ROUGE-L F of first-sentence retrieval; null when not evaluated at this length.</param>
public sealed record AblationScore(int Length, double Multiple, double Loss, double? Passkey, double? FirstSentence);

/// <summary>One model of the ablation: how it was made, its scores and the full evaluation reports.</summary>
public sealed record AblationVariant(string Name, string Description, double RopeTheta, string? RopeScaling, int TrainedContext,
    int Steps, double? FinalTrainLoss, double? FinalValidationLoss, double TrainSeconds, double EvalSeconds,
    IReadOnlyList<AblationScore> Scores, LossCurveReport Loss, RetrievalReport? Passkey, RetrievalReport? FirstSentence, string RunDirectory);

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
/// <param name="Task">passkey or first-sentence.</param>
/// <param name="WithinTrained">Best score at lengths ≤ its trained context.</param>
/// <param name="BeyondTrained">Mean score at lengths beyond it.</param>
/// <param name="Collapses">Beyond ≤ half of within (and within &gt; 0); null when there is nothing to compare.</param>
public sealed record AblationCollapse(string Variant, string Task, double? WithinTrained, double? BeyondTrained, bool? Collapses);

/// <summary>Everything results.json holds.</summary>
public sealed record RopeAblationResult(RopeAblationOptions Settings, string Corpus, string Tokenizer, int VocabSize, string ModelSummary,
    IReadOnlyList<int> Lengths, IReadOnlyList<AblationVariant> Variants, IReadOnlyList<AblationOrdering> LongContextOrdering,
    IReadOnlyList<AblationCollapse> RetrievalCollapse, string Conclusion, IReadOnlyDictionary<string, double> PhaseSeconds, double TotalSeconds);
