using System.Text.Json.Serialization;
using Elongate.Model;

namespace Elongate.Training;

/// <summary>How a fine-tuning step weighs the loss tokens of the examples in it.</summary>
public enum LossWeighting
{
    /// <summary>
    /// Mean over every loss token of the step: an example weighs in proportion to its number of loss tokens, so a
    /// long answer (or, with loss on the input, a long document) counts more than a short one. This is what a plain
    /// cross-entropy over packed sequences computes and what the paper (and Llama 2-Chat's SFT) trained with.
    /// </summary>
    Tokens,
    /// <summary>
    /// Mean over the step's examples of each example's mean token loss: every example weighs the same whatever its
    /// length (LongAlign's loss weighting, Bai et al. 2024, for packed data of very uneven lengths).
    /// </summary>
    Examples,
}

/// <summary>
/// Everything that decides a fine-tuning run's numbers, saved in every checkpoint so <c>--resume</c> continues the
/// same run.
/// </summary>
/// <remarks>
/// <para><b>Defaults and why.</b> Llama 2-Chat's supervised fine-tuning (Touvron et al. 2023, §3.1): AdamW, cosine
/// schedule from lr 2·10⁻⁵, weight decay 0.1, batch 64 sequences of 4,096 tokens (262,144 tokens per step), 2 epochs,
/// loss on answer tokens only; β1 0.9, β2 0.95, ε 10⁻⁵ and gradient clipping at 1.0 are Llama 2's optimizer (§2.2).
/// LLaMA 2 Long (Xiong et al. 2023) builds its chat model on that recipe, continual-pretraining at 2·10⁻⁵ (7B/13B)
/// and 1·10⁻⁵ (34B/70B) with the number of tokens per step kept constant when the sequence length grows — the rule
/// applied here: sequences per step = <see cref="TokensPerStep"/> / T, so at T = 16,384 a step is 16 sequences.
/// Full fine-tuning therefore defaults to lr 2·10⁻⁵ (the small-model value; pass 1·10⁻⁵ for 34B+ sizes).
/// LoRA defaults to lr 2·10⁻⁴, QLoRA's value for 7B–13B (Dettmers et al. 2023; the 1·10⁻⁴–2·10⁻⁴ range PEFT
/// examples use), and weight decay 0: decaying A and B pulls the adapter, not the model, toward zero.
/// Warm-up is 3% of the steps (the Alpaca/transformers recipe; Llama 2's SFT reports none) and the cosine ends at
/// 10% of the peak, as pretraining here does.</para>
/// </remarks>
public sealed record FineTuneOptions
{
    /// <summary>Llama 2-Chat SFT's step: 64 sequences × 4,096 tokens.</summary>
    public const int DefaultTokensPerStep = 64 * 4096;

    /// <summary>
    /// The default step for sequences of <paramref name="seqLen"/> in micro-batches of <paramref name="batchSize"/>: as
    /// close to <see cref="DefaultTokensPerStep"/> as whole micro-batches of whole sequences allow (at least one).
    /// </summary>
    public static int DefaultTokensPerStepFor(int seqLen, int batchSize)
    {
        if (seqLen < 1 || batchSize < 1) throw new ArgumentException("the sequence length and batch size must be positive");
        long sequences = Math.Max(1, (long)Math.Round((double)DefaultTokensPerStep / seqLen));
        long microBatches = Math.Max(1, (long)Math.Round((double)sequences / batchSize));
        return (int)Math.Min(int.MaxValue / seqLen / batchSize * seqLen * batchSize, microBatches * batchSize * seqLen);
    }

    /// <summary>Passes over the training sequences (Llama 2-Chat SFT: 2).</summary>
    public int Epochs { get; init; } = 2;

    /// <summary>
    /// Tokens per optimizer step; sequences per step = TokensPerStep / T (must divide, and be a multiple of
    /// <see cref="BatchSize"/>). When the data holds fewer sequences, a step takes all of them.
    /// </summary>
    public int TokensPerStep { get; init; } = DefaultTokensPerStep;

    /// <summary>Sequences per forward/backward (micro-batch); a step accumulates gradients over several.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Peak learning rate; null: 2e-5 for full fine-tuning, 2e-4 with LoRA (see remarks).</summary>
    public float? LearningRate { get; init; }

    /// <summary>Floor of the cosine decay; null: 10% of the peak.</summary>
    public float? MinLearningRate { get; init; }

    /// <summary>Linear warm-up steps; null: 3% of the run's steps, rounded up.</summary>
    public int? WarmupSteps { get; init; }

    /// <summary>Decoupled weight decay on matrices; null: 0.1 for full fine-tuning, 0 with LoRA.</summary>
    public float? WeightDecay { get; init; }

    public float MaxGradNorm { get; init; } = 1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Epsilon { get; init; } = 1e-5f;

    /// <summary>How examples weigh within a step's loss.</summary>
    public LossWeighting LossWeighting { get; init; } = LossWeighting.Tokens;

    /// <summary>Seed of the per-epoch shuffle, the adapters' initialization and their dropout masks.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Validation loss every this many steps (0: only after the last step); needs validation sequences.</summary>
    public int ValidateEvery { get; init; }

    /// <summary>Checkpoint every this many steps (0: only after the last step).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>LoRA adapters to train instead of every weight; null: full fine-tuning.</summary>
    public LoraSettings? Lora { get; init; }

    /// <summary>With LoRA: also write the merged model (model.gguf and hf/) next to the adapter.</summary>
    public bool Merge { get; init; }

    /// <summary>
    /// The base model's path: recorded as the adapter's base_model_name_or_path, and with LoRA reloaded by a resume
    /// (the checkpoint then holds only the adapters, and a hash of the base it verifies).
    /// </summary>
    public string? BaseModel { get; init; }

    /// <summary>Recompute layer activations in the backward instead of storing them (less memory, one more forward).</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>Train on one thread so a resumed run is bit-identical by promise (see <see cref="TrainerOptions.Deterministic"/>).</summary>
    public bool Deterministic { get; init; }

    /// <summary>Batches with a non-finite loss or gradient that may be skipped before the run stops (<see cref="TrainingGuard"/>).</summary>
    public int SkipNonFinite { get; init; }

    /// <summary>The learning rate used: <see cref="LearningRate"/> or the default for the kind of run.</summary>
    [JsonIgnore]
    public float PeakLearningRate => LearningRate ?? (Lora is null ? 2e-5f : 2e-4f);

    /// <summary>The weight decay used.</summary>
    [JsonIgnore]
    public float EffectiveWeightDecay => WeightDecay ?? (Lora is null ? 0.1f : 0f);

    /// <summary>Warm-up steps for a run of <paramref name="totalSteps"/>.</summary>
    public int EffectiveWarmup(int totalSteps) => WarmupSteps ?? (int)Math.Ceiling(0.03 * totalSteps);

    /// <summary>The schedule over <paramref name="totalSteps"/>.</summary>
    public CosineSchedule Schedule(int totalSteps) =>
        new(PeakLearningRate, MinLearningRate ?? PeakLearningRate * 0.1f, EffectiveWarmup(totalSteps), totalSteps);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate(int seqLen)
    {
        if (Epochs < 1) throw new ArgumentException($"--epochs must be positive, got {Epochs}");
        _ = TrainerOptions.StepShape(TokensPerStep, seqLen, BatchSize);
        if (!(PeakLearningRate > 0) || float.IsInfinity(PeakLearningRate)) throw new ArgumentException($"--lr must be positive, got {PeakLearningRate}");
        if (MinLearningRate is { } min && !(min >= 0 && min <= PeakLearningRate)) throw new ArgumentException($"--min-lr must be in [0, --lr], got {min}");
        if (WarmupSteps is < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {WarmupSteps}");
        if (!(EffectiveWeightDecay >= 0) || !(MaxGradNorm >= 0)) throw new ArgumentException("--weight-decay and --grad-clip must be ≥ 0");
        if (ValidateEvery < 0 || CheckpointEvery < 0) throw new ArgumentException("--val-every and --checkpoint-every must be ≥ 0");
        if (SkipNonFinite < 0) throw new ArgumentException($"--skip-nonfinite must be ≥ 0, got {SkipNonFinite}");
        if (!Enum.IsDefined(LossWeighting)) throw new ArgumentException($"unknown loss weighting {LossWeighting}");
        Lora?.Validate();
        if (Merge && Lora is null) throw new ArgumentException("--merge needs LoRA (--lora-rank): a full fine-tuning run already writes the whole model");
    }
}
