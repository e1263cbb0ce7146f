namespace Elongate.Experiments;

/// <summary>
/// Settings of <see cref="InputLossExperiment"/>. The base model keeps the paper's ratios (pretrained short, extended to
/// <see cref="LengthFactor"/> = 8 times the length with ABF, θ × 50); the long QA documents fill most of the extended
/// context. The defaults finish in about 12 minutes on two shared cores with the fixture books (docs/experiment-input-loss).
/// </summary>
public sealed record InputLossOptions
{
    /// <summary>Folder receiving report.md, results.json, the PNGs, data/, qa/, runs/ and eval/.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>An extended model to instruction-tune (GGUF, safetensors folder or llama2.c); null pretrains and extends one here.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Folder of .txt books: pretraining text and the sentences of the QA documents; null uses the built-in synthetic corpus.</summary>
    public string? CorpusDirectory { get; init; }

    /// <summary>Tokenizer for <see cref="CorpusDirectory"/> when a base is trained here; null learns a <see cref="VocabSize"/>-piece BPE vocabulary.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>
    /// Held-out documents (a folder of .txt/.jsonl or a .jsonl) whose sentences make the held-out QA documents, never
    /// trained on; null uses the documents split off the corpus.
    /// </summary>
    public string? EvalCorpusPath { get; init; }

    /// <summary>Names of the corpus files held out; null holds out the <see cref="ValidationCount"/> last in ordinal name order.</summary>
    public IReadOnlyList<string>? ValidationDocuments { get; init; }

    public int ValidationCount { get; init; } = 2;
    public int VocabSize { get; init; } = 512;
    public int SyntheticTrainDocuments { get; init; } = 200;
    public int SyntheticValidationDocuments { get; init; } = 8;
    public int SyntheticWords { get; init; } = 3000;

    public string Preset { get; init; } = "1m";

    /// <summary>Pretraining length of the base trained here; it is extended to <see cref="LongLength"/>.</summary>
    public int ShortLength { get; init; } = 32;

    public int LengthFactor { get; init; } = 8;
    public int TokensPerStep { get; init; } = 4096;
    public int BaseSteps { get; init; } = 150;
    public int ExtendSteps { get; init; } = 40;
    public float BaseLearningRate { get; init; } = 2e-3f;
    public float ExtendLearningRate { get; init; } = 5e-4f;
    public float Theta { get; init; } = 10_000f;
    public float AbfFactor { get; init; } = 50f;

    /// <summary>Documents self-instruct draws its training questions from, and held-out documents asked in the evaluation.</summary>
    public int TrainDocuments { get; init; } = 400;
    public int TestDocuments { get; init; } = 60;

    /// <summary>Chunk shown to the teacher and chunks drawn per document (docs/self-instruct-mini.md's 64 and 24).</summary>
    public int ChunkTokens { get; init; } = 64;
    public int PairsPerDocument { get; init; } = 24;

    /// <summary>Passes of instruction tuning, its peak learning rate and tokens per step (the same for both losses).</summary>
    public int Epochs { get; init; } = 3;
    public float FineTuneLearningRate { get; init; } = 2e-3f;
    public int FineTuneTokensPerStep { get; init; } = 4096;

    /// <summary>Chat template of the tuning data and the evaluation prompts.</summary>
    public string ChatTemplate { get; init; } = "chatml";

    public ulong Seed { get; init; } = 1;

    /// <summary>The extended length: model context, tuning sequence length and evaluation cap.</summary>
    public int LongLength => ShortLength * LengthFactor;

    /// <summary>QA document sizes in tokens: 55–80% of the long length, leaving room for question, answer and chat markup.</summary>
    public (int Min, int Max) DocumentTokens => ((int)(0.55 * LongLength), (int)(0.8 * LongLength));

    /// <summary>The few-minutes setting.</summary>
    public static InputLossOptions Quick(string outputDirectory) => new()
    {
        OutputDirectory = outputDirectory, ShortLength = 64, TokensPerStep = 2048, BaseSteps = 40, ExtendSteps = 10, TrainDocuments = 120, TestDocuments = 24,
        Epochs = 2, FineTuneTokensPerStep = 2048, SyntheticTrainDocuments = 24, SyntheticValidationDocuments = 3, SyntheticWords = 1500, VocabSize = 400,
    };

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (ModelPath is not null && !File.Exists(ModelPath) && !Directory.Exists(ModelPath)) throw new ArgumentException($"--model {ModelPath} does not exist");
        if (CorpusDirectory is not null && !Directory.Exists(CorpusDirectory)) throw new ArgumentException($"--corpus {CorpusDirectory} is not a folder");
        if (EvalCorpusPath is not null && !Directory.Exists(EvalCorpusPath) && !File.Exists(EvalCorpusPath))
            throw new ArgumentException($"--eval-corpus {EvalCorpusPath} is neither a folder nor a file");
        if (ShortLength < 16) throw new ArgumentException($"--seq-len must be ≥ 16, got {ShortLength}");
        if (LengthFactor < 2) throw new ArgumentException($"--length-factor must be ≥ 2, got {LengthFactor}");
        if (LongLength < 96) throw new ArgumentException($"the long length {LongLength} leaves no room for a document with a question: it must be ≥ 96");
        if (TokensPerStep % LongLength != 0 || FineTuneTokensPerStep % LongLength != 0)
            throw new ArgumentException($"--tokens-per-step {TokensPerStep} and the tuning step {FineTuneTokensPerStep} must be multiples of the long length {LongLength}");
        if (BaseSteps < 1 || ExtendSteps < 1 || Epochs < 1) throw new ArgumentException("--base-steps, --extend-steps and --epochs must be positive");
        foreach (var (v, n) in new[] { (BaseLearningRate, "--base-lr"), (ExtendLearningRate, "--extend-lr"), (FineTuneLearningRate, "--lr"), (Theta, "--theta") })
            if (!(v > 0) || float.IsInfinity(v)) throw new ArgumentException($"{n} must be positive, got {v}");
        if (!(AbfFactor >= 1) || float.IsInfinity(AbfFactor)) throw new ArgumentException($"--abf-factor must be ≥ 1, got {AbfFactor}");
        if (TrainDocuments < 1 || TestDocuments < 2) throw new ArgumentException("--train-docs must be ≥ 1 and --test-docs ≥ 2");
        if (TrainDocuments + TestDocuments > PasswordFacts.Adjectives.Length * PasswordFacts.Nouns.Length)
            throw new ArgumentException($"at most {PasswordFacts.Adjectives.Length * PasswordFacts.Nouns.Length} documents in all: each needs its own key");
        if (ChunkTokens < 16 || PairsPerDocument < 1) throw new ArgumentException("the self-instruct chunk must be ≥ 16 tokens and pairs per document ≥ 1");
        if (ValidationCount < 1 || SyntheticTrainDocuments < 1 || SyntheticValidationDocuments < 1 || SyntheticWords < 50 || VocabSize < 260)
            throw new ArgumentException("corpus sizes must be positive (vocabulary ≥ 260)");
        _ = Training.ModelPresets.Dimensions(Preset);
        _ = Tokenization.ChatTemplate.FromName(ChatTemplate);
    }

    /// <summary>The corpus settings in the form <see cref="RopeAblation.PrepareData"/> takes.</summary>
    internal RopeAblationOptions CorpusSettings(string outDir) => new()
    {
        OutputDirectory = outDir, CorpusDirectory = CorpusDirectory, TokenizerPath = TokenizerPath, ValidationDocuments = ValidationDocuments,
        ValidationCount = ValidationCount, VocabSize = VocabSize, Seed = Seed, SyntheticTrainDocuments = SyntheticTrainDocuments,
        SyntheticValidationDocuments = SyntheticValidationDocuments, SyntheticWords = SyntheticWords,
    };
}
