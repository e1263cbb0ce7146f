namespace Elongate.Experiments;

/// <summary>
/// Settings of <see cref="CurriculumExperiment"/>. The paper's ratios are kept: the long length is
/// <see cref="LengthFactor"/> = 8 times the short one (4,096 → 32,768), the tokens per step stay the same at both
/// lengths, and the long stage raises RoPE's θ by <see cref="AbfFactor"/> = 50 (10,000 → 500,000). The defaults are
/// sized by measurement to finish in about half an hour on two cores; <see cref="Quick"/> in a few minutes.
/// </summary>
public sealed record CurriculumOptions
{
    /// <summary>Folder receiving report.md, results.json, the PNGs, data/ and one run folder per model.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Folder of .txt documents (books) to train on; null uses the built-in synthetic corpus.</summary>
    public string? CorpusDirectory { get; init; }

    /// <summary>Tokenizer for <see cref="CorpusDirectory"/>; null learns a <see cref="VocabSize"/>-piece BPE vocabulary from the training documents.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>
    /// Held-out documents (a folder of .txt/.jsonl, a .jsonl or a token shard) used for every loss and retrieval probe,
    /// never trained on; null evaluates on the documents split off the training corpus.
    /// </summary>
    public string? EvalCorpusPath { get; init; }

    /// <summary>Names of the corpus files held out from training; null holds out the <see cref="ValidationCount"/> last in ordinal name order.</summary>
    public IReadOnlyList<string>? ValidationDocuments { get; init; }

    /// <summary>Corpus documents held out when <see cref="ValidationDocuments"/> is null.</summary>
    public int ValidationCount { get; init; } = 2;

    public string Preset { get; init; } = "1m";

    /// <summary>The short (pretraining) length; the long one is <see cref="LengthFactor"/> times it.</summary>
    public int ShortLength { get; init; } = 128;

    /// <summary>Long length ÷ short length (the paper's 32,768 / 4,096 = 8).</summary>
    public int LengthFactor { get; init; } = 8;

    /// <summary>Tokens per optimizer step at both lengths (the paper keeps 4M): sequences per step = this / T.</summary>
    public int TokensPerStep { get; init; } = 4096;

    /// <summary>Optimizer steps of every model: every curriculum trains the same <see cref="Steps"/> × <see cref="TokensPerStep"/> tokens.</summary>
    public int Steps { get; init; } = 120;

    /// <summary>Peak learning rate of the one warmup + cosine schedule every model follows over all its steps.</summary>
    public float LearningRate { get; init; } = 2e-3f;

    /// <summary>
    /// RoPE θ of the short stage; null: the scaled base (<see cref="Rope.ScaledRopeBase.MatchLongestWavelength"/>) whose
    /// longest wavelength is the same multiple of <see cref="ShortLength"/> as Llama 2's (θ 10,000, head dim 128) is of
    /// 4,096 — about 390 for head dim 32 at 128 tokens. Give 10,000 for the contrast.
    /// </summary>
    public float? Theta { get; init; }

    /// <summary>
    /// Share of training tokens drawn from the synthetic retrieval mix (<see cref="Data.RetrievalDocuments"/>, documents up
    /// to the long length), at both lengths; 0 trains on the corpus alone. With it the passkey probe has a skill to measure.
    /// </summary>
    public double RetrievalShare { get; init; } = 0.2;

    /// <summary>
    /// Train the retrieval documents with loss on their answers only (the default; <see cref="Data.LossTails"/> says
    /// why), or on every token (false: how earlier reports trained them, with no retrieval learned).
    /// </summary>
    public bool RetrievalAnswersOnly { get; init; } = true;

    /// <summary>θ of the long stage (and of the model trained long from scratch) = <see cref="Theta"/> × this (ABF; the paper's 500,000 / 10,000).</summary>
    public float AbfFactor { get; init; } = 50f;

    /// <summary>Fractions of the steps trained at the short length before switching to the long one (the paper's 20%, 40%, 80%).</summary>
    public IReadOnlyList<double> Switches { get; init; } = [0.2, 0.4, 0.8];

    /// <summary>
    /// Seeds of the weight initialization and the data order; every curriculum is trained once per seed (the same
    /// seed gives every curriculum the same initial weights and the same token stream). Two or more give the spread.
    /// </summary>
    public IReadOnlyList<ulong> Seeds { get; init; } = [1];

    /// <summary>Shuffle training documents in chunks of this many tokens (0: whole documents).</summary>
    public int ShuffleChunkTokens { get; init; } = 4096;

    /// <summary>Vocabulary size of the tokenizer learned when <see cref="TokenizerPath"/> is null.</summary>
    public int VocabSize { get; init; } = 512;

    /// <summary>Synthetic documents for training and held out, and their size in words.</summary>
    public int SyntheticTrainDocuments { get; init; } = 200;
    public int SyntheticValidationDocuments { get; init; } = 8;
    public int SyntheticWords { get; init; } = 3000;

    /// <summary>Held-out windows of the long length scored for loss (each also scored in short windows).</summary>
    public int LossWindows { get; init; } = 24;

    public int PasskeyTrials { get; init; } = 4;
    public IReadOnlyList<double> PasskeyDepths { get; init; } = [0.25, 0.75];

    /// <summary>
    /// The quality margin of the verdict, as a share of the from-scratch model's long-context loss: a curriculum
    /// "reaches" from-scratch quality when the upper end of its loss difference's 95% interval is at most this much.
    /// </summary>
    public double Margin { get; init; } = 0.01;

    /// <summary>θ of the short stage in effect for a head of <paramref name="headDim"/>: <see cref="Theta"/>, else the scaled base.</summary>
    public float ShortTheta(int headDim) => Theta ?? (float)Rope.ScaledRopeBase.MatchLongestWavelength(headDim, ShortLength);

    /// <summary>The long length.</summary>
    public int LongLength => ShortLength * LengthFactor;

    /// <summary>Steps at the short length before the switch at fraction <paramref name="f"/> (rounded).</summary>
    public int SwitchStep(double f) => (int)Math.Round(f * Steps, MidpointRounding.AwayFromZero);

    /// <summary>The few-minutes setting: a tiny grid at 64 → 512 tokens.</summary>
    public static CurriculumOptions Quick(string outputDirectory) => new()
    {
        OutputDirectory = outputDirectory, ShortLength = 64, TokensPerStep = 4096, Steps = 40, SyntheticTrainDocuments = 24,
        SyntheticValidationDocuments = 3, SyntheticWords = 1500, VocabSize = 400, LossWindows = 6, PasskeyTrials = 1, PasskeyDepths = [0.5],
    };

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (CorpusDirectory is not null && !Directory.Exists(CorpusDirectory)) throw new ArgumentException($"--corpus {CorpusDirectory} is not a folder");
        if (EvalCorpusPath is not null && !Directory.Exists(EvalCorpusPath) && !File.Exists(EvalCorpusPath))
            throw new ArgumentException($"--eval-corpus {EvalCorpusPath} is neither a folder nor a file");
        if (ShortLength < 16) throw new ArgumentException($"--seq-len must be ≥ 16, got {ShortLength}");
        if (LengthFactor < 2) throw new ArgumentException($"--length-factor must be ≥ 2, got {LengthFactor}");
        if (TokensPerStep % LongLength != 0)
            throw new ArgumentException($"--tokens-per-step {TokensPerStep} must be a multiple of the long length {LongLength}, so both stages see whole sequences");
        if (Steps < 2) throw new ArgumentException($"--steps must be ≥ 2, got {Steps}");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"--lr must be positive, got {LearningRate}");
        if (Theta is { } t && (!(t > 0) || float.IsInfinity(t))) throw new ArgumentException($"--theta must be positive, got {t}");
        if (!(RetrievalShare >= 0 && RetrievalShare < 1)) throw new ArgumentException($"--retrieval-mix must be in [0, 1), got {RetrievalShare}");
        if (!(AbfFactor >= 1) || float.IsInfinity(AbfFactor)) throw new ArgumentException($"--abf-factor must be ≥ 1, got {AbfFactor}");
        if (Switches.Count == 0) throw new ArgumentException("--switches names none");
        foreach (var f in Switches)
        {
            if (!(f > 0 && f < 1)) throw new ArgumentException($"--switches: {f} is not a fraction strictly between 0 and 1");
            int k = SwitchStep(f);
            if (k < 1 || k >= Steps) throw new ArgumentException($"--switches: {f} of {Steps} steps leaves no step at one of the lengths (switch at step {k})");
        }
        if (Switches.Select(SwitchStep).Distinct().Count() != Switches.Count) throw new ArgumentException($"--switches: two fractions switch at the same step of {Steps}");
        if (Seeds.Count == 0) throw new ArgumentException("--seeds names none");
        if (Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("--seeds repeats a seed");
        if (ShuffleChunkTokens < 0) throw new ArgumentException($"--shuffle-chunk must be ≥ 0, got {ShuffleChunkTokens}");
        if (ValidationCount < 1) throw new ArgumentException("the held-out document count must be ≥ 1");
        if (SyntheticTrainDocuments < 1 || SyntheticValidationDocuments < 1 || SyntheticWords < 50) throw new ArgumentException("synthetic corpus sizes must be positive");
        if (LossWindows < 1 || PasskeyTrials < 1 || PasskeyDepths.Count == 0) throw new ArgumentException("evaluation sizes must be positive");
        if (!(Margin >= 0 && Margin < 1)) throw new ArgumentException($"the verdict margin must be in [0, 1), got {Margin}");
        _ = Training.ModelPresets.Dimensions(Preset);
    }

    /// <summary>The corpus settings in the form <see cref="RopeAblation.PrepareData"/> takes.</summary>
    internal RopeAblationOptions CorpusSettings(string outDir) => new()
    {
        OutputDirectory = outDir, CorpusDirectory = CorpusDirectory, TokenizerPath = TokenizerPath, ValidationDocuments = ValidationDocuments,
        ValidationCount = ValidationCount, VocabSize = VocabSize, Seed = Seeds[0], SyntheticTrainDocuments = SyntheticTrainDocuments,
        SyntheticValidationDocuments = SyntheticValidationDocuments, SyntheticWords = SyntheticWords,
    };
}
