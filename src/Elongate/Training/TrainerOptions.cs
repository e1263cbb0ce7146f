using System.Text.Json.Serialization;
using Elongate.Kernels;

namespace Elongate.Training;

/// <summary>
/// Everything that decides a training run's numbers. Saved in every checkpoint so `--resume` continues the very same
/// run. Defaults are Llama 2's (Touvron et al. 2023 §2.2) where it has one.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Data folders and their mixture weights.</summary>
    public required IReadOnlyList<TrainingSource> Sources { get; init; }

    /// <summary>Tokens per training sequence (T).</summary>
    public required int SeqLen { get; init; }

    /// <summary>
    /// Tokens per optimizer step. The paper's rule: when the sequence length grows, the number of sequences per step
    /// shrinks so this stays constant; sequences per step = TokensPerStep / SeqLen exactly.
    /// </summary>
    public required int TokensPerStep { get; init; }

    /// <summary>Sequences per forward/backward (micro-batch); a step accumulates gradients over several of them.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Optimizer steps of the whole run.</summary>
    public required int Steps { get; init; }

    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 3e-4f;

    /// <summary>Floor of the cosine decay; null means 10% of the peak (Llama 2).</summary>
    public float? MinLearningRate { get; init; }

    /// <summary>
    /// Batches with a non-finite loss or gradient that may be skipped (no update, counted in metrics.jsonl) before the
    /// run stops; 0 stops at the first. See <see cref="TrainingGuard"/>.
    /// </summary>
    public int SkipNonFinite { get; init; }

    /// <summary>Steps of linear warmup.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>
    /// Steps of an earlier stage whose learning-rate schedule this run continues: step s of this run gets the
    /// schedule's step <c>ScheduleOffset + s</c>. 0 for a run with its own schedule; a curriculum's later stage (the
    /// same training continued at another sequence length, <see cref="Trainer.ContinueFrom"/>) sets it to the steps
    /// done before it, so the stages together follow one warmup and one cosine.
    /// </summary>
    public int ScheduleOffset { get; init; }

    /// <summary>
    /// Steps of the whole learning-rate schedule (where the cosine reaches its floor); null: <see cref="ScheduleOffset"/>
    /// + <see cref="Steps"/>, so the run ends at the floor. Set it beyond for a stage that stops part-way through the
    /// schedule (a curriculum's short stage, continued at the long length by another run). Kept by a resume that
    /// changes <see cref="Steps"/>; a null one is re-laid over the new length.
    /// </summary>
    public int? ScheduleSteps { get; init; }

    public float WeightDecay { get; init; } = 0.1f;
    public float MaxGradNorm { get; init; } = 1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Epsilon { get; init; } = 1e-5f;

    /// <summary>Validation loss every this many steps (0: only after the last step).</summary>
    public int ValidateEvery { get; init; }

    /// <summary>Validation windows of T tokens taken (at most) from each source's val.tokens; the same windows every time.</summary>
    public int ValidationWindows { get; init; } = 16;

    /// <summary>Checkpoint every this many steps (0: only after the last step).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Seed of the data order (and of the weight initialization for a run from scratch).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Documents longer than this many tokens are repeated <see cref="UpsampleFactor"/> times per epoch (0 = off).</summary>
    public int UpsampleThreshold { get; init; }

    public int UpsampleFactor { get; init; } = 1;

    /// <summary>
    /// Shuffle documents in chunks of this many tokens (0 = whole documents). With a few book-length documents,
    /// whole-document shuffling walks through one book at a time; chunks mix them within each epoch.
    /// </summary>
    public int ShuffleChunkTokens { get; init; }

    /// <summary>Confine attention to each packed document (off by default, like Llama 2).</summary>
    public bool DocumentMasking { get; init; }

    /// <summary>
    /// Train on one thread, so a resumed run reproduces an uninterrupted one bit for bit whatever the kernels do with
    /// threads. Saved in the checkpoint; the `elongate` command honours it by running the training process with
    /// DOTNET_PROCESSOR_COUNT=1 (every kernel then runs on the calling thread). A Trainer hosted in a process with
    /// more processors records the flag but cannot narrow the process; today's kernels give the same bits there too,
    /// since they split work only across independent outputs.
    /// </summary>
    public bool Deterministic { get; init; }

    /// <summary>
    /// Input format of the linear layers' matrix products (<see cref="LlamaTrainingModel{T}.MatmulPrecision"/>, which
    /// lists the ops it covers): fp32 (the default) or bf16 mixed precision; master weights, optimizer state, gradients,
    /// norms, softmax and attention stay fp32 either way. Saved in the checkpoint ("matmulPrecision"; absent in
    /// checkpoints written before the option existed, which were fp32), so a resume keeps it.
    /// </summary>
    [JsonConverter(typeof(JsonStringEnumConverter<GemmPrecision>))]
    public GemmPrecision MatmulPrecision { get; init; } = GemmPrecision.Fp32;

    /// <summary>Sequences per step and micro-batches per step for this run (see <see cref="StepShape"/>).</summary>
    [JsonIgnore]
    public (int Sequences, int MicroBatches) Shape => StepShape(TokensPerStep, SeqLen, BatchSize);

    /// <summary>
    /// The paper's tokens-per-step rule: sequences per step = <paramref name="tokensPerStep"/> / <paramref name="seqLen"/>,
    /// done as gradient accumulation over micro-batches of <paramref name="batchSize"/> sequences.
    /// </summary>
    /// <exception cref="ArgumentException">Either division is not exact.</exception>
    public static (int Sequences, int MicroBatches) StepShape(int tokensPerStep, int seqLen, int batchSize)
    {
        if (seqLen < 1) throw new ArgumentException($"--seq-len must be positive, got {seqLen}");
        if (batchSize < 1) throw new ArgumentException($"--batch-size must be positive, got {batchSize}");
        if (tokensPerStep < seqLen || tokensPerStep % seqLen != 0)
            throw new ArgumentException($"--tokens-per-step {tokensPerStep} must be a positive multiple of --seq-len {seqLen}");
        int sequences = tokensPerStep / seqLen;
        if (sequences % batchSize != 0)
            throw new ArgumentException($"{sequences} sequences per step (--tokens-per-step {tokensPerStep} / --seq-len {seqLen}) are not a multiple of --batch-size {batchSize}");
        return (sequences, sequences / batchSize);
    }

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Sources.Count == 0) throw new ArgumentException("training needs at least one --data folder");
        if (Sources.Select(s => s.Name).Distinct().Count() != Sources.Count) throw new ArgumentException("two --data sources share a name");
        _ = Shape;
        if (Steps < 1) throw new ArgumentException($"--steps must be positive, got {Steps}");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"--lr must be positive, got {LearningRate}");
        if (MinLearningRate is { } min && !(min >= 0 && min <= LearningRate)) throw new ArgumentException($"--min-lr must be in [0, --lr], got {min}");
        if (WarmupSteps < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {WarmupSteps}");
        if (ScheduleOffset < 0) throw new ArgumentException($"the schedule offset must be ≥ 0, got {ScheduleOffset}");
        if (ScheduleSteps is { } total && total < 1) throw new ArgumentException($"the schedule length must be positive, got {total}");
        if (ValidateEvery < 0 || CheckpointEvery < 0) throw new ArgumentException("--val-every and --checkpoint-every must be ≥ 0");
        if (ValidationWindows < 1) throw new ArgumentException($"--val-windows must be positive, got {ValidationWindows}");
        if (ShuffleChunkTokens < 0) throw new ArgumentException("--shuffle-chunk must be ≥ 0");
        if (UpsampleThreshold < 0 || UpsampleFactor < 1) throw new ArgumentException("--upsample-threshold must be ≥ 0 and --upsample-factor ≥ 1");
        if (!(WeightDecay >= 0) || !(MaxGradNorm >= 0)) throw new ArgumentException("--weight-decay and --grad-clip must be ≥ 0");
        if (SkipNonFinite < 0) throw new ArgumentException($"--skip-nonfinite must be ≥ 0, got {SkipNonFinite}");
        if (!Enum.IsDefined(MatmulPrecision)) throw new ArgumentException($"--precision must be fp32 or bf16, got {MatmulPrecision}");
    }

    /// <summary>
    /// The learning-rate schedule: linear warmup, cosine to the floor at the last step (of <see cref="ScheduleSteps"/>
    /// when set); this run's step s uses its step <see cref="ScheduleOffset"/> + s.
    /// </summary>
    [JsonIgnore]
    public CosineSchedule Schedule => new(LearningRate, MinLearningRate ?? LearningRate * 0.1f, WarmupSteps, ScheduleSteps ?? ScheduleOffset + Steps);
}
