namespace Elongate.Experiments;

/// <summary>
/// Settings of <see cref="RopeAblation"/>: by default the faithful miniature (scaled RoPE base, 8× extension, ABF ×50,
/// a retrieval mix, 3 extension seeds). <see cref="Quick"/> finishes in a few minutes.
/// </summary>
public sealed record RopeAblationOptions
{
    /// <summary>Variant ids, in report order: the unextended base model, then the four continual-pretraining recipes.</summary>
    public static IReadOnlyList<string> AllVariants { get; } = ["base", "rope", "pi", "abf", "xpos-abf"];

    /// <summary>Folder receiving report.md, results.json, the PNGs and one run folder per model.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Folder of .txt documents (books) to train and evaluate on; null uses the built-in synthetic corpus.</summary>
    public string? CorpusDirectory { get; init; }

    /// <summary>Tokenizer for <see cref="CorpusDirectory"/>; null learns a <see cref="VocabSize"/>-piece BPE vocabulary from the training documents (the held-out ones never shape it).</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Names of the corpus files held out for evaluation; null holds out the <see cref="ValidationCount"/> last in ordinal name order.</summary>
    public IReadOnlyList<string>? ValidationDocuments { get; init; }

    /// <summary>Corpus documents held out when <see cref="ValidationDocuments"/> is null.</summary>
    public int ValidationCount { get; init; } = 2;

    public string Preset { get; init; } = "1m";

    /// <summary>
    /// Attention heads (and key/value heads) instead of the preset's, at the same width. Fewer, wider heads give each
    /// head more rotary pairs whose wavelength exceeds a given distance; at 2 heads of 64 that did not lengthen the
    /// base's retrieval range (docs/rope-ablation-retrieval/base-probes). Null keeps the preset's heads.
    /// </summary>
    public int? Heads { get; init; }

    /// <summary>Base (pretraining) context; extensions train at <see cref="ExtendFactor"/> times it.</summary>
    public int SeqLen { get; init; } = 256;

    /// <summary>The extension's multiple of <see cref="SeqLen"/>: the paper's 8× (4,096 → 32,768); PI interpolates by it.</summary>
    public int ExtendFactor { get; init; } = 8;

    /// <summary>
    /// RoPE base of the base model (and of RoPE-unchanged and PI); null derives it from the head dimension and
    /// <see cref="SeqLen"/> with <see cref="Rope.ScaledRopeBase.MatchLongestWavelength"/>, so the longest wavelength
    /// keeps Llama 2's ratio to the trained length. 10,000 gives the unscaled setting of the earlier reports.
    /// </summary>
    public double? RopeTheta { get; init; }

    /// <summary>ABF multiplies the base by this (the paper: 10,000 → 500,000, ×50).</summary>
    public double AbfFactor { get; init; } = 50;

    /// <summary>
    /// Share of training tokens drawn from synthetic retrieval documents (<see cref="Data.RetrievalDocuments"/>),
    /// in both stages, each stage's documents up to its own sequence length; 0 trains on the corpus alone.
    /// </summary>
    public double RetrievalMix { get; init; } = 0.5;

    /// <summary>
    /// Train the retrieval documents with loss on their answers only (the default; <see cref="Data.LossTails"/> says
    /// why), or on every token (false: how earlier reports trained them, with no retrieval learned).
    /// </summary>
    public bool RetrievalAnswersOnly { get; init; } = true;

    /// <summary>
    /// Draw the extension stage's retrieval document lengths log-uniformly between a quarter of the base length and the
    /// extended length (<see cref="Data.RetrievalDocumentOptions.LogUniformLengths"/>), so every doubling of distance
    /// is practised equally and the distances the base already bridges keep their share (the default: with uniform
    /// lengths, as in the earlier reports, only about 1 in 8 extension documents fits the base length and every
    /// extension forgot the base's passkey retrieval, docs/rope-ablation-retrieval); false draws them uniformly.
    /// See <see cref="BaseFullLengthRetrieval"/> for the base stage's lengths.
    /// </summary>
    public bool ExtendLogUniformLengths { get; init; } = true;

    /// <summary>
    /// Make every base-stage retrieval document as long as the base context allows, so every fact has the whole window's
    /// filler to sit in and every first-sentence question spans the full window, as the probes at 1× do. False (the
    /// default) draws base lengths uniformly from a quarter of the length to all of it. A drawn length shorter than a
    /// document's fixed wording leaves it no filler, so with tok512 at 256 tokens 86% of passkeys put the needle right
    /// before the question; full length moved the median key distance from 69 to 105 tokens, but the base then learned
    /// no retrieval in 1,000 steps (docs/rope-ablation-retrieval/base-probes).
    /// </summary>
    public bool BaseFullLengthRetrieval { get; init; }

    /// <summary>
    /// Relative shares of the retrieval document kinds in both stages (<see cref="Data.RetrievalDocumentOptions.ParseWeights"/>);
    /// null keeps <see cref="Data.RetrievalDocumentOptions"/>'s defaults (passkey 0.5, key-value 0.35, repeated passage
    /// and first sentence 0.075 each).
    /// </summary>
    public IReadOnlyDictionary<Data.RetrievalKind, double>? RetrievalWeights { get; init; }

    /// <summary>
    /// Folder of held-out documents (.txt / .jsonl) for every loss and retrieval probe; null uses the corpus's
    /// held-out documents. It must not be the corpus folder.
    /// </summary>
    public string? EvalCorpusDirectory { get; init; }

    /// <summary>Extension runs per variant, each with its own data-order seed (the base is trained once).</summary>
    public int Seeds { get; init; } = 3;

    /// <summary>Tokens per optimizer step, the same for the base run and every extension (the paper's rule).</summary>
    public int TokensPerStep { get; init; } = 4096;

    public int BaseSteps { get; init; } = 1000;
    public int ExtendSteps { get; init; } = 125;
    public float BaseLearningRate { get; init; } = 2e-3f;
    public float ExtendLearningRate { get; init; } = 5e-4f;
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Shuffle training documents in chunks of this many tokens (0: whole documents). A corpus of a few books
    /// otherwise walks one book at a time, and the last steps of a short run see a single book.
    /// </summary>
    public int ShuffleChunkTokens { get; init; } = 4096;

    /// <summary>Subset of <see cref="AllVariants"/> to run.</summary>
    public IReadOnlyList<string> Variants { get; init; } = AllVariants;

    /// <summary>Vocabulary size of the tokenizer learned when <see cref="TokenizerPath"/> is null.</summary>
    public int VocabSize { get; init; } = 512;

    /// <summary>Synthetic documents for training and for evaluation, and their size in words.</summary>
    public int SyntheticTrainDocuments { get; init; } = 200;
    public int SyntheticValidationDocuments { get; init; } = 8;
    public int SyntheticWords { get; init; } = 3000;

    /// <summary>
    /// Held-out text scored for loss, in windows of the longest evaluated length (0 = all of it). Every length
    /// scores these same tokens (see <see cref="RopeAblation"/>), so the loss-by-length curve compares like with like.
    /// </summary>
    public int LossWindows { get; init; } = 24;

    public int PasskeyTrials { get; init; } = 3;
    public IReadOnlyList<double> PasskeyDepths { get; init; } = [0.25, 0.75];
    public int FirstSentenceTrials { get; init; } = 3;

    /// <summary>Random sequences per length of the repeated-token copy test (<see cref="Evaluation.RepeatedTokensEvaluation"/>); each scores about half its window.</summary>
    public int RepeatedTokensTrials { get; init; } = 4;

    /// <summary>Multiples of the base context evaluated (1×, 2×, 4× and 8×: the last is extrapolation for every model).</summary>
    public IReadOnlyList<int> Multiples { get; init; } = [1, 2, 4, 8];

    /// <summary>The ≤ 3-minute setting: a tiny model, few steps, a tiny grid.</summary>
    public static RopeAblationOptions Quick(string outputDirectory) => new()
    {
        OutputDirectory = outputDirectory, SeqLen = 128, TokensPerStep = 2048, BaseSteps = 60, ExtendSteps = 15, Seeds = 2,
        SyntheticTrainDocuments = 24, SyntheticValidationDocuments = 3, SyntheticWords = 1500, VocabSize = 400,
        LossWindows = 4, PasskeyTrials = 1, PasskeyDepths = [0.5], FirstSentenceTrials = 1, RepeatedTokensTrials = 1,
    };

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (CorpusDirectory is not null && !Directory.Exists(CorpusDirectory)) throw new ArgumentException($"--corpus {CorpusDirectory} is not a folder");
        if (EvalCorpusDirectory is not null && !Directory.Exists(EvalCorpusDirectory)) throw new ArgumentException($"--eval-corpus {EvalCorpusDirectory} is not a folder");
        if (EvalCorpusDirectory is not null && CorpusDirectory is not null
            && string.Equals(Path.GetFullPath(EvalCorpusDirectory).TrimEnd('/'), Path.GetFullPath(CorpusDirectory).TrimEnd('/'), StringComparison.Ordinal))
            throw new ArgumentException($"--eval-corpus {EvalCorpusDirectory} is the training corpus: held-out documents must not be trained on");
        if (RopeTheta is { } t && !(t > 1 && double.IsFinite(t))) throw new ArgumentException($"--theta must be > 1, got {t}");
        if (!(AbfFactor > 1 && double.IsFinite(AbfFactor))) throw new ArgumentException($"--abf-factor must be > 1, got {AbfFactor}");
        if (!(RetrievalMix >= 0 && RetrievalMix < 1)) throw new ArgumentException($"--retrieval-mix must be in [0, 1), got {RetrievalMix}");
        if (Seeds < 1) throw new ArgumentException($"--seeds must be ≥ 1, got {Seeds}");
        if (Variants.Count == 0) throw new ArgumentException("--variants names none");
        foreach (var v in Variants)
            if (!AllVariants.Contains(v)) throw new ArgumentException($"unknown variant '{v}'; known: {string.Join(", ", AllVariants)}");
        if (Variants.Distinct().Count() != Variants.Count) throw new ArgumentException("--variants repeats a name");
        if (SeqLen < 16) throw new ArgumentException($"--seq-len must be ≥ 16, got {SeqLen}");
        if (ExtendFactor < 2) throw new ArgumentException($"the extension factor must be ≥ 2, got {ExtendFactor}");
        if (BaseSteps < 1 || ExtendSteps < 1) throw new ArgumentException("--base-steps and --extend-steps must be positive");
        if (TokensPerStep % (SeqLen * ExtendFactor) != 0)
            throw new ArgumentException($"--tokens-per-step {TokensPerStep} must be a multiple of the extended length {SeqLen * ExtendFactor}, so both stages see whole sequences");
        if (ShuffleChunkTokens < 0) throw new ArgumentException($"--shuffle-chunk must be ≥ 0, got {ShuffleChunkTokens}");
        if (ValidationCount < 1) throw new ArgumentException("--val-count must be ≥ 1");
        if (SyntheticTrainDocuments < 1 || SyntheticValidationDocuments < 1 || SyntheticWords < 50) throw new ArgumentException("synthetic corpus sizes must be positive");
        if (LossWindows < 0 || PasskeyTrials < 1 || FirstSentenceTrials < 1 || RepeatedTokensTrials < 1) throw new ArgumentException("evaluation sizes must be positive");
        if (Multiples.Count == 0 || Multiples.Any(m => m < 1)) throw new ArgumentException("multiples must be ≥ 1");
        var (dim, _, _, _) = Training.ModelPresets.Dimensions(Preset);
        if (Heads is { } h && (h < 1 || dim % h != 0 || dim / h % 2 != 0))
            throw new ArgumentException($"--heads {h} must divide the preset's width {dim} into heads of an even size");
    }
}
