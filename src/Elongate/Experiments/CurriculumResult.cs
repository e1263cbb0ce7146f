namespace Elongate.Experiments;

/// <summary>One stage of a curriculum: a sequence length trained for some steps.</summary>
/// <param name="SeqLen">Tokens per sequence.</param>
/// <param name="RopeTheta">RoPE θ of the stage.</param>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="Tokens">Tokens trained (steps × tokens per step).</param>
/// <param name="FlopsPerToken">By <see cref="TrainingFlops.PerToken"/>.</param>
/// <param name="Flops">Tokens × FLOPs per token.</param>
/// <param name="AttentionShare">Attention's quadratic term's share of <paramref name="FlopsPerToken"/>.</param>
/// <param name="Seconds">Measured training seconds (steps only: no evaluation, export or data preparation).</param>
public sealed record CurriculumStage(int SeqLen, double RopeTheta, int Steps, long Tokens, double FlopsPerToken, double Flops, double AttentionShare, double Seconds);

/// <summary>One trained model (one curriculum, one seed) and its held-out scores.</summary>
/// <param name="Variant">"scratch" or "switch-20%" etc.</param>
/// <param name="SwitchAt">Fraction of the steps trained short (0 for from scratch at the long length).</param>
/// <param name="Seed">Seed of the initialization and the data order.</param>
/// <param name="Stages">Short then long, or long only.</param>
/// <param name="Flops">Sum over the stages.</param>
/// <param name="LongLoss">Mean held-out loss (nats/token) in windows of the long length.</param>
/// <param name="ShortLoss">Mean loss over the same tokens in windows of the short length.</param>
/// <param name="WindowLosses">Mean loss of each long window (the same windows for every model), for the paired comparison.</param>
/// <param name="PasskeyLong">Passkey accuracy at the long length (null when the prompt does not fit).</param>
/// <param name="PasskeyShort">Passkey accuracy at the short length (null when the prompt does not fit).</param>
/// <param name="FinalTrainLoss">Training loss of the last step.</param>
/// <param name="EvalSeconds">Evaluation wall time.</param>
/// <param name="RunDirectory">The long (last) stage's run folder, relative to the output folder.</param>
public sealed record CurriculumRun(string Variant, double SwitchAt, ulong Seed, IReadOnlyList<CurriculumStage> Stages, double Flops,
    double LongLoss, double ShortLoss, IReadOnlyList<double> WindowLosses, double? PasskeyLong, double? PasskeyShort, double? FinalTrainLoss,
    double EvalSeconds, string RunDirectory)
{
    /// <summary>Training seconds over all stages.</summary>
    public double TrainSeconds => Stages.Sum(s => s.Seconds);
}

/// <summary>One curriculum over all seeds, against training from scratch at the long length.</summary>
/// <param name="Variant">Name.</param>
/// <param name="SwitchAt">Fraction trained short (0: from scratch).</param>
/// <param name="Flops">Training FLOPs (the same for every seed).</param>
/// <param name="FlopsRatio">÷ the from-scratch model's FLOPs.</param>
/// <param name="LongLoss">Mean over seeds of the long-context loss.</param>
/// <param name="LongLossSd">Its standard deviation over seeds (null with one seed).</param>
/// <param name="ShortLoss">Mean over seeds of the loss in short windows.</param>
/// <param name="PasskeyLong">Mean over seeds of passkey accuracy at the long length.</param>
/// <param name="Difference">Long loss minus the from-scratch model's, mean over seeds (paired by seed); 0 for scratch itself.</param>
/// <param name="Lower">Lower end of its 95% interval.</param>
/// <param name="Upper">Upper end.</param>
/// <param name="IntervalBasis">How the interval was computed (t over seeds, or paired bootstrap over held-out windows with one seed).</param>
/// <param name="Verdict">"reaches", "falls short" or "undecided" against the margin; "reference" for scratch.</param>
/// <param name="TrainSeconds">Mean over seeds of the measured training seconds.</param>
public sealed record CurriculumSummary(string Variant, double SwitchAt, double Flops, double FlopsRatio, double LongLoss, double? LongLossSd, double ShortLoss,
    double? PasskeyLong, double Difference, double Lower, double Upper, string IntervalBasis, string Verdict, double TrainSeconds);

/// <summary>Everything results.json holds.</summary>
/// <param name="ShortTheta">RoPE θ of the short stage in effect (the long stage's is it × the ABF factor).</param>
public sealed record CurriculumResult(CurriculumOptions Settings, double ShortTheta, string Corpus, string EvalCorpus, string Tokenizer, int VocabSize, string ModelSummary,
    string FlopsFormula, double MarginNats, IReadOnlyList<CurriculumRun> Runs, IReadOnlyList<CurriculumSummary> Summary, string Conclusion,
    IReadOnlyDictionary<string, double> PhaseSeconds, double TotalSeconds);
