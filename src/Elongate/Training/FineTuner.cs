using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Training.Distributed;

namespace Elongate.Training;

/// <summary>What a finished fine-tuning run reports; the paths that do not apply to the run are null.</summary>
public sealed record FineTuneSummary(int Steps, long Tokens, float? FinalLoss, float? FinalValidationLoss, double TokensPerSecond,
    string LossPlotPath, string MetricsPath, string? GgufPath, string? SafetensorsFolder, string? AdapterFolder);

/// <summary>
/// Instruction tuning (the paper's second stage) on a fixed list of <see cref="FineTuneSequence"/>s: each epoch
/// visits every sequence once in a seeded shuffled order; a step takes <see cref="SequencesPerStep"/> of them
/// (tokens per step / T, gradient accumulation over micro-batches of <see cref="FineTuneOptions.BatchSize"/>); the loss
/// is weighted per token so the step's loss is the mean over all its loss tokens (or over its examples, see
/// <see cref="LossWeighting"/>); full fine-tuning updates every weight, LoRA only the adapters. AdamW with warm-up and
/// cosine decay (defaults in <see cref="FineTuneOptions"/>), resumable atomic checkpoints, metrics.jsonl, loss.png, and
/// at the end model.gguf + hf/ (full, or LoRA with --merge) and adapter/ (LoRA, PEFT format).
/// </summary>
/// <remarks>
/// <para><b>Why a class of its own rather than a data source for <see cref="Trainer"/>.</b> Pretraining's loop is
/// built around an endless packed stream from token shards (mixture sampler, packers, fixed validation windows) and
/// a fixed step count; its checkpoint is that stream's position. Fine-tuning has a finite list of pre-built, padded
/// sequences, epochs, per-token loss weights across micro-batches, and LoRA (a trainable set that is not the model's
/// parameters, a base that is reloaded rather than saved). Folding both into one loop would put each one's state and
/// validation rules into the other; instead the pieces are shared — <see cref="LlamaTrainingModel{T}"/>,
/// <see cref="AdamW"/>, <see cref="CosineSchedule"/>, <see cref="TrainingMetrics"/> and metrics.jsonl,
/// <see cref="LossCurvePlot"/>, the model writers, and <see cref="ITrainingLoop"/> for the CLI's progress and Ctrl+C
/// handling — and each loop stays small.</para>
/// <para><b>Weighting.</b> With B micro-batches per step, each with its own loss tokens, a plain mean per micro-batch
/// would weigh a token by 1/(B·n_mb); here every loss token of the step gets weight 1/N_step (N_step: the step's loss
/// tokens), so the step minimises the mean over all of them, exactly the loss of one big batch. An example then
/// weighs by its number of loss tokens (the paper's and Llama 2-Chat's choice); <see cref="LossWeighting.Examples"/>
/// gives token t of example e the weight 1/(n_e·E) instead.</para>
/// <para><b>Exact resume.</b> The sequences are saved in the run folder (sequences.bin, validation.bin) and hashed
/// into the checkpoint; epoch e's order is a pure function of (seed, e); dropout masks of (seed, step, micro-batch);
/// parameters and moments are raw fp32. A resumed run therefore reproduces an uninterrupted one bit for bit (the
/// kernels split work only across independent outputs; <see cref="FineTuneOptions.Deterministic"/> makes it a
/// promise).</para>
/// <para><b>Data parallel</b> (under <c>mpirun</c>, see <see cref="DataParallelStep"/>): a step's micro-batches are cut
/// into contiguous shares, one per rank (a full step must split evenly; the shorter last step of an epoch splits by
/// ⌊rM/N⌋); the loss weights are computed over the whole step on every rank, so the summed losses and gradients are the
/// single-process ones; dropout masks depend on the global micro-batch index. Rank 0 alone writes the run folder and
/// validates.</para>
/// </remarks>
public sealed class FineTuner : ITrainingLoop
{
    public const string SequencesFileName = "sequences.bin";
    public const string ValidationFileName = "validation.bin";
    public const string AdapterFolderName = "adapter";


    private readonly List<FineTuneSequence> _train, _validation;
    private readonly AdamW _optimizer;
    private readonly CosineSchedule _schedule;
    private readonly TrainingGuard _guard;
    private readonly DataParallelStep _parallel;
    private readonly float[] _params, _grads;
    private readonly int[] _inputs, _targets, _segments;
    private readonly float[] _weights;
    private readonly string _sequencesSha, _baseSha;
    private readonly string? _validationSha;
    private readonly Stopwatch _clock = new();
    private long _metricsLength;
    private double _elapsedBefore;
    private int[] _order = [];
    private int _orderEpoch = -1;

    /// <summary>The model being trained: fp32 weights; with LoRA the base is frozen and only its adapters train.</summary>
    public LlamaTrainingModel<float> Model { get; }

    public FineTuneOptions Options { get; }
    public string RunDirectory { get; }

    /// <summary>Tokens per sequence (T).</summary>
    public int SeqLen { get; }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>Non-padding tokens processed so far.</summary>
    public long TokensSeen { get; private set; }

    /// <summary>Training sequences.</summary>
    public int SequenceCount => _train.Count;

    /// <summary>Validation sequences (0: no validation).</summary>
    public int ValidationCount => _validation.Count;

    /// <summary>Sequences per step: tokens per step / T, or every sequence when there are fewer.</summary>
    public int SequencesPerStep { get; }

    /// <summary>Forward/backward passes per full step.</summary>
    public int MicroBatches => (SequencesPerStep + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>Steps per epoch (the last step of an epoch may hold fewer sequences).</summary>
    public int StepsPerEpoch { get; }

    /// <summary>Steps of the whole run: epochs × steps per epoch.</summary>
    public int TotalSteps => Options.Epochs * StepsPerEpoch;

    /// <summary>Warm-up steps of the schedule.</summary>
    public int WarmupSteps => _schedule.WarmupSteps;

    /// <summary>Parameters the optimizer updates (all weights, or the adapters).</summary>
    public int TrainableParameters => _params.Length;

    public Action<TrainingMetrics>? StepCompleted { get; set; }

    /// <summary>Test hook: runs inside checkpoint writing, after the parameters are written.</summary>
    internal Action? CheckpointWriteHook { get; set; }

    public string CheckpointPath => Path.Combine(RunDirectory, FineTuneCheckpoint.FileName);
    public string MetricsPath => Path.Combine(RunDirectory, Trainer.MetricsFileName);

    /// <summary>Processes training together (MPI ranks; 1 without MPI).</summary>
    public int WorldSize => _parallel.Communicator.Size;

    private FineTuner(LlamaTrainingModel<float> model, FineTuneOptions options, string runDirectory, List<FineTuneSequence> train,
        List<FineTuneSequence> validation, string sequencesSha, string? validationSha, string baseSha, ICommunicator communicator)
    {
        Model = model;
        Options = options;
        RunDirectory = runDirectory;
        _train = train;
        _validation = validation;
        _sequencesSha = sequencesSha;
        _validationSha = validationSha;
        _baseSha = baseSha;
        SeqLen = model.SeqLen;
        var (sequences, _) = TrainerOptions.StepShape(options.TokensPerStep, SeqLen, options.BatchSize);
        SequencesPerStep = Math.Min(sequences, train.Count);
        StepsPerEpoch = (train.Count + SequencesPerStep - 1) / SequencesPerStep;
        bool lora = options.Lora is not null;
        _params = lora ? model.LoraParameters : model.Parameters;
        _grads = lora ? model.LoraGradients : model.Gradients;
        var tensors = lora ? model.LoraTensors : model.Tensors;
        _optimizer = new AdamW(tensors, _params.Length)
        {
            Beta1 = options.Beta1, Beta2 = options.Beta2, Epsilon = options.Epsilon, WeightDecay = options.EffectiveWeightDecay, MaxGradNorm = options.MaxGradNorm,
        };
        _schedule = options.Schedule(TotalSteps);
        _guard = new TrainingGuard(options.SkipNonFinite, runDirectory);
        _parallel = DataParallelStep.Create(communicator, options.Deterministic, MicroBatches, SequencesPerStep, options.BatchSize);
        int bt = options.BatchSize * SeqLen;
        _inputs = new int[bt];
        _targets = new int[bt];
        _segments = new int[bt];
        _weights = new float[bt];
    }

    /// <summary>
    /// Starts a run in <paramref name="runDirectory"/> from <paramref name="baseModel"/>'s weights (copied to fp32; the
    /// caller keeps ownership of the model). The sequences are checked (lengths, token ids within the vocabulary, no
    /// loss on padding) and saved in the run folder.
    /// </summary>
    /// <param name="communicator">The data-parallel job (null: this process alone); every rank calls Create with the same arguments and rank 0 writes the run folder.</param>
    /// <exception cref="ArgumentException">Bad options or data, or the folder already holds a checkpoint.</exception>
    public static FineTuner Create(LlamaModel baseModel, IReadOnlyList<FineTuneSequence> train, FineTuneOptions options, string runDirectory,
        IReadOnlyList<FineTuneSequence>? validation = null, ICommunicator? communicator = null)
    {
        communicator ??= SingleProcessCommunicator.Instance;
        if (train.Count == 0) throw new ArgumentException("no training sequences");
        int T = train[0].Inputs.Length;
        options.Validate(T);
        int vocab = baseModel.Config.VocabSize;
        Check(train, T, vocab, "training");
        if (validation is not null) Check(validation, T, vocab, "validation");
        var dir = Path.GetFullPath(runDirectory);
        if (File.Exists(Path.Combine(dir, FineTuneCheckpoint.FileName)))
            throw new ArgumentException($"{dir} already holds a fine-tuning checkpoint: continue it with --resume, or choose another --out");
        var config = baseModel.Config with
        {
            TieWordEmbeddings = baseModel.Weights.Output is null, MaxPositionEmbeddings = Math.Max(baseModel.Config.MaxPositionEmbeddings, T),
        };
        var model = LlamaTrainingModel<float>.FromModel(baseModel.With(config), options.BatchSize, T, options.GradientCheckpointing);
        model.Vocabulary = baseModel.Vocabulary;
        string baseSha = "";
        if (options.Lora is { } lora)
        {
            model.AddLora(lora, unchecked((int)options.Seed));
            baseSha = Sha256(model.Parameters);
        }
        var trainList = train as List<FineTuneSequence> ?? [.. train];
        var valList = validation is null ? [] : validation as List<FineTuneSequence> ?? [.. validation];
        bool root = communicator.Rank == 0;
        if (root) Directory.CreateDirectory(dir);
        string sha = root ? FineTuneSequenceFile.Write(Path.Combine(dir, SequencesFileName), trainList, T) : FineTuneSequenceFile.Sha256Of(trainList, T);
        string? valSha = null;
        if (valList.Count > 0) valSha = root ? FineTuneSequenceFile.Write(Path.Combine(dir, ValidationFileName), valList, T) : FineTuneSequenceFile.Sha256Of(valList, T);
        if (root) File.WriteAllBytes(Path.Combine(dir, Trainer.MetricsFileName), []);
        var tuner = new FineTuner(model, options, dir, trainList, valList, sha, valSha, baseSha, communicator);
        tuner.ShareState(loaded: "built");
        return tuner;
    }

    /// <summary>
    /// Under MPI: checks that every rank holds the same sequences and position, and gives every rank rank 0's trainable
    /// weights and moments (they are equal by construction; the broadcast makes it certain).
    /// </summary>
    private void ShareState(string loaded, float[]? firstMoments = null, float[]? secondMoments = null)
    {
        var comm = _parallel.Communicator;
        if (comm.Size == 1) return;
        long Prefix(string? hex) => hex is null ? 0 : Convert.ToInt64(hex[..15], 16);
        if (!_parallel.Agree(Prefix(_sequencesSha)) || !_parallel.Agree(Prefix(_validationSha)) || !_parallel.Agree(Step) || !_parallel.Agree(Prefix(_baseSha.Length == 0 ? null : _baseSha)))
            throw new ArgumentException($"the ranks {loaded} different fine-tuning data, base weights or checkpoints in {RunDirectory}: give every rank the same files (a shared file system for --resume)");
        comm.Broadcast(_params, 0);
        if (firstMoments is not null) comm.Broadcast(firstMoments, 0);
        if (secondMoments is not null) comm.Broadcast(secondMoments, 0);
    }

    /// <summary>
    /// Continues the run saved in <paramref name="runDirectory"/>. A LoRA run reloads its base from
    /// <see cref="FineTuneOptions.BaseModel"/> (or through <paramref name="loadBase"/>) and refuses a base whose
    /// weights changed.
    /// </summary>
    /// <exception cref="Common.ModelFormatException">The checkpoint or a data file is missing, damaged or changed.</exception>
    /// <param name="communicator">The data-parallel job (null: this process alone); every rank reads the run folder at the same path.</param>
    public static FineTuner Resume(string runDirectory, Func<string, LlamaModel>? loadBase = null, ICommunicator? communicator = null)
    {
        communicator ??= SingleProcessCommunicator.Instance;
        var dir = Path.GetFullPath(runDirectory);
        var ckptPath = Path.Combine(dir, FineTuneCheckpoint.FileName);
        var ckpt = FineTuneCheckpoint.Load(ckptPath);
        var s = ckpt.Info;
        var options = s.Options;
        var (train, T, sha) = FineTuneSequenceFile.Read(Path.Combine(dir, SequencesFileName));
        if (sha != s.SequencesSha256 || T != s.SeqLen)
            throw new Common.ModelFormatException(Path.Combine(dir, SequencesFileName), "the sequences changed since the checkpoint was written: the run cannot continue exactly");
        var validation = new List<FineTuneSequence>();
        if (s.ValidationSha256 is { } vs)
        {
            var (v, vt, vsha) = FineTuneSequenceFile.Read(Path.Combine(dir, ValidationFileName));
            if (vsha != vs || vt != T) throw new Common.ModelFormatException(Path.Combine(dir, ValidationFileName), "the validation sequences changed since the checkpoint was written");
            validation = v;
        }
        LlamaTrainingModel<float> model;
        if (options.Lora is { } lora)
        {
            var path = options.BaseModel ?? throw new Common.ModelFormatException(ckptPath, "a LoRA run needs its base model's path to resume", key: "options.baseModel");
            using (var baseModel = (loadBase ?? (p => ModelLoader.Load(p)))(path))
                model = LlamaTrainingModel<float>.FromModel(baseModel.With(s.Config), options.BatchSize, T, options.GradientCheckpointing);
            model.AddLora(lora, unchecked((int)options.Seed));
            if (Sha256(model.Parameters) != s.BaseSha256)
                throw new Common.ModelFormatException(path, "the base model's weights differ from those the adapters were trained on");
            if (ckpt.Parameters.Length != model.LoraParameters.Length)
                throw new Common.ModelFormatException(ckptPath, $"{ckpt.Parameters.Length} adapter parameters for settings that need {model.LoraParameters.Length}");
            ckpt.Parameters.CopyTo(model.LoraParameters, 0);
        }
        else
        {
            model = new LlamaTrainingModel<float>(s.Config, options.BatchSize, T, options.GradientCheckpointing);
            if (ckpt.Parameters.Length != model.Parameters.Length)
                throw new Common.ModelFormatException(ckptPath, $"{ckpt.Parameters.Length} parameters for a config that needs {model.Parameters.Length}");
            ckpt.Parameters.CopyTo(model.Parameters, 0);
        }
        model.Vocabulary = s.Vocabulary;
        var tuner = new FineTuner(model, options, dir, train, validation, sha, s.ValidationSha256, s.BaseSha256 ?? "", communicator)
        {
            Step = s.Step, TokensSeen = s.TokensSeen, _metricsLength = s.MetricsLength, _elapsedBefore = s.ElapsedSeconds,
        };
        tuner.ShareState("read", ckpt.FirstMoments, ckpt.SecondMoments);
        tuner._optimizer.RestoreState(ckpt.FirstMoments, ckpt.SecondMoments, s.OptimizerStep);
        tuner._guard.LastCheckpointStep = s.Step;
        if (communicator.Rank == 0)
            using (var f = new FileStream(tuner.MetricsPath, FileMode.OpenOrCreate, FileAccess.Write))
                if (f.Length > s.MetricsLength) f.SetLength(s.MetricsLength);
        return tuner;
    }

    /// <summary>Checks lengths, id ranges and that padding carries no loss; names the sequence and token at fault.</summary>
    private static void Check(IReadOnlyList<FineTuneSequence> sequences, int T, int vocab, string what)
    {
        for (int i = 0; i < sequences.Count; i++)
        {
            var q = sequences[i];
            if (q.Inputs.Length != T || q.Targets.Length != T || q.Segments.Length != T)
                throw new ArgumentException($"{what} sequence {i}: inputs, targets and segments must all hold {T} tokens (got {q.Inputs.Length}, {q.Targets.Length}, {q.Segments.Length})");
            for (int t = 0; t < T; t++)
            {
                int x = q.Inputs[t], y = q.Targets[t], g = q.Segments[t];
                if ((uint)x >= (uint)vocab) throw new ArgumentException($"{what} sequence {i}, token {t}: input id {x} is outside the model's vocabulary of {vocab}");
                if (y != FineTuneSequence.IgnoreIndex && (uint)y >= (uint)vocab)
                    throw new ArgumentException($"{what} sequence {i}, token {t}: target {y} is outside the vocabulary of {vocab} and is not the ignore index {FineTuneSequence.IgnoreIndex}");
                if (g < FineTuneSequence.PaddingSegment) throw new ArgumentException($"{what} sequence {i}, token {t}: segment id {g} is negative and not padding ({FineTuneSequence.PaddingSegment})");
                if (g == FineTuneSequence.PaddingSegment && y != FineTuneSequence.IgnoreIndex)
                    throw new ArgumentException($"{what} sequence {i}, token {t}: a padding token carries a loss target");
            }
        }
    }

    /// <summary>SHA-256 of an fp32 buffer (hex), in chunks so buffers over 2 GB hash too.</summary>
    private static string Sha256(float[] values)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long i = 0; i < values.LongLength; i += 1 << 26)
            sha.AppendData(MemoryMarshal.AsBytes(values.AsSpan((int)i, (int)Math.Min(1 << 26, values.LongLength - i))));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Epoch <paramref name="epoch"/>'s order of the training sequences: a shuffle seeded by (seed, epoch) only.</summary>
    public int[] EpochOrder(int epoch)
    {
        var order = Enumerable.Range(0, _train.Count).ToArray();
        new SplitMix64(Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)epoch * 0xD1B54A32D192ED03UL + 0x5EED).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>Indices of the training sequences of 0-based step <paramref name="step"/>.</summary>
    public ReadOnlySpan<int> StepSequences(int step)
    {
        int epoch = step / StepsPerEpoch, j = step % StepsPerEpoch;
        if (epoch != _orderEpoch) { _order = EpochOrder(epoch); _orderEpoch = epoch; }
        int start = j * SequencesPerStep;
        return _order.AsSpan(start, Math.Min(SequencesPerStep, _train.Count - start));
    }

    /// <summary>
    /// The per-token loss weights of a step (see remarks): weights[k][t] for the k-th sequence of
    /// <paramref name="sequences"/>; all zero when the step has no loss token.
    /// </summary>
    public static float[][] StepWeights(IReadOnlyList<FineTuneSequence> sequences, LossWeighting weighting)
    {
        var result = sequences.Select(q => new float[q.Targets.Length]).ToArray();
        if (weighting == LossWeighting.Tokens)
        {
            long n = sequences.Sum(q => (long)q.Targets.Count(y => y != FineTuneSequence.IgnoreIndex));
            if (n == 0) return result;
            float w = (float)(1.0 / n);
            for (int k = 0; k < sequences.Count; k++)
                for (int t = 0; t < sequences[k].Targets.Length; t++)
                    if (sequences[k].Targets[t] != FineTuneSequence.IgnoreIndex) result[k][t] = w;
            return result;
        }
        // Examples: (sequence, segment) is one example; an example never spans sequences.
        var counts = new Dictionary<(int, int), int>();
        for (int k = 0; k < sequences.Count; k++)
            for (int t = 0; t < sequences[k].Targets.Length; t++)
                if (sequences[k].Targets[t] != FineTuneSequence.IgnoreIndex)
                    counts[(k, sequences[k].Segments[t])] = counts.GetValueOrDefault((k, sequences[k].Segments[t])) + 1;
        int examples = counts.Count;
        for (int k = 0; k < sequences.Count; k++)
            for (int t = 0; t < sequences[k].Targets.Length; t++)
                if (sequences[k].Targets[t] != FineTuneSequence.IgnoreIndex)
                    result[k][t] = (float)(1.0 / ((double)counts[(k, sequences[k].Segments[t])] * examples));
        return result;
    }

    /// <summary>Loads micro-batch rows from <paramref name="sequences"/> (rows beyond them: padding with no loss).</summary>
    private void Fill(IReadOnlyList<FineTuneSequence> sequences, IReadOnlyList<float[]> weights, int first)
    {
        int T = SeqLen;
        for (int b = 0; b < Options.BatchSize; b++)
        {
            int k = first + b;
            var dst = new Range(b * T, (b + 1) * T);
            if (k < sequences.Count)
            {
                sequences[k].Inputs.CopyTo(_inputs.AsSpan(dst));
                sequences[k].Targets.CopyTo(_targets.AsSpan(dst));
                sequences[k].Segments.CopyTo(_segments.AsSpan(dst));
                weights[k].CopyTo(_weights.AsSpan(dst));
            }
            else
            {
                _inputs.AsSpan(dst).Clear();
                _targets.AsSpan(dst).Fill(FineTuneSequence.IgnoreIndex);
                _segments.AsSpan(dst).Fill(FineTuneSequence.PaddingSegment);
                _weights.AsSpan(dst).Clear();
            }
        }
    }

    /// <summary>True when this run has validation sequences.</summary>
    public bool HasValidation => _validation.Count > 0;

    /// <summary>Mean cross-entropy per loss token over the validation sequences; null without them.</summary>
    public float? Validate() => ValidateCore();

    // Under MPI only rank 0 validates (it alone records the result).
    private float? ValidateCore()
    {
        if (_validation.Count == 0 || !_parallel.IsRoot) return null;
        var weights = StepWeights(_validation, LossWeighting.Tokens);
        if (weights.All(w => w.All(x => x == 0))) return null;
        bool dropout = Model.DropoutEnabled;
        Model.DropoutEnabled = false;
        double sum = 0;
        for (int first = 0; first < _validation.Count; first += Options.BatchSize)
        {
            Fill(_validation, weights, first);
            sum += Model.Forward(_inputs, _targets, _segments, _weights);
        }
        Model.DropoutEnabled = dropout;
        return (float)sum;
    }

    /// <summary>One optimizer step (plus validation and checkpoint when due); returns its metrics.</summary>
    public TrainingMetrics TrainStep()
    {
        if (Step >= TotalSteps) throw new InvalidOperationException($"the run is complete ({TotalSteps} steps)");
        _clock.Start();
        var watch = Stopwatch.StartNew();
        float lr = _schedule.At(Step);
        var indices = StepSequences(Step).ToArray();
        var sequences = indices.Select(i => _train[i]).ToArray();
        var weights = StepWeights(sequences, Options.LossWeighting);
        long tokens = sequences.Sum(q => (long)q.Segments.Count(g => g != FineTuneSequence.PaddingSegment));
        Model.ZeroGrad();
        Model.DropoutEnabled = true;
        int microBatches = (sequences.Length + Options.BatchSize - 1) / Options.BatchSize;
        var (firstMb, count) = _parallel.BeginStep(microBatches);
        var losses = new double[count];
        for (int j = 0; j < count; j++)
        {
            int mb = firstMb + j;
            Fill(sequences, weights, mb * Options.BatchSize);
            Model.DropoutSeed = DropoutSeed(Step, mb);
            losses[j] = Model.Forward(_inputs, _targets, _segments, _weights);
            Model.Backward();
            _parallel.MicroBatchDone(_grads, j);
        }
        double loss = _parallel.SumLosses(losses);
        _parallel.SumGradients(_grads);
        Model.DropoutEnabled = false;
        // AdamW leaves everything untouched when the norm is not finite, so a bad batch never reaches the weights.
        float norm = double.IsFinite(loss) ? _optimizer.Step(_params, _grads, lr) : float.NaN;
        bool skipped = TrainingGuard.IsBad(loss, norm);
        if (skipped) _guard.Skip(Step + 1, loss, norm);
        string? warning = skipped ? $"step {Step + 1}: non-finite loss or gradient, batch skipped ({_guard.Skipped} of --skip-nonfinite {_guard.MaxSkips})"
            : _guard.Observe(Step + 1, loss, norm);
        Step++;
        TokensSeen += tokens;
        double seconds = watch.Elapsed.TotalSeconds;
        float? val = (Options.ValidateEvery > 0 && Step % Options.ValidateEvery == 0) || Step == TotalSteps ? ValidateCore() : null;
        _clock.Stop();
        var metrics = new TrainingMetrics(Step, (float)loss, lr, norm, tokens / Math.Max(seconds, 1e-9), TokensSeen, val, _elapsedBefore + _clock.Elapsed.TotalSeconds)
        {
            Skipped = skipped ? true : null, Warning = warning,
        };
        metrics = _parallel.AppendMetrics(MetricsPath, metrics, ref _metricsLength);
        if ((Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0) || Step == TotalSteps) SaveCheckpoint();
        StepCompleted?.Invoke(metrics);
        return metrics;
    }

    private ulong DropoutSeed(int step, int microBatch)
    {
        var g = new SplitMix64(Options.Seed ^ ((ulong)step << 20) ^ (ulong)microBatch ^ 0xA5A5A5A5DEADBEEFUL);
        return g.NextUInt64();
    }

    /// <summary>Writes the checkpoint atomically (temp file + rename); under MPI rank 0 writes and every rank waits for it.</summary>
    public void SaveCheckpoint()
    {
        if (!_parallel.IsRoot)
        {
            _parallel.Communicator.Barrier();
            _guard.LastCheckpointStep = Step;
            return;
        }
        var state = new FineTuneCheckpoint.State
        {
            Config = Model.Config, Options = Options, Vocabulary = Model.Vocabulary, SeqLen = SeqLen, Step = Step, OptimizerStep = _optimizer.StepCount,
            MetricsLength = _metricsLength, TokensSeen = TokensSeen, ElapsedSeconds = _elapsedBefore + _clock.Elapsed.TotalSeconds,
            SequencesSha256 = _sequencesSha, ValidationSha256 = _validationSha, BaseSha256 = Options.Lora is null ? null : _baseSha,
        };
        FineTuneCheckpoint.Write(CheckpointPath, state, _params, _optimizer.FirstMoments, _optimizer.SecondMoments, CheckpointWriteHook);
        _parallel.Communicator.Barrier();
        _guard.LastCheckpointStep = Step;
    }

    /// <summary>Trains until the last step, then writes the loss curve and the exports.</summary>
    public FineTuneSummary Run(CancellationToken cancellation = default)
    {
        TrainingMetrics? last = null;
        while (Step < TotalSteps)
        {
            // All ranks stop after the same step, or one would wait forever in the next step's collectives.
            if (_parallel.Any(cancellation.IsCancellationRequested)) throw new OperationCanceledException(cancellation);
            last = TrainStep();
        }
        return Export(last);
    }

    /// <summary>
    /// Writes loss.png and the model: model.gguf + hf/ (full fine-tuning, or LoRA merged with
    /// <see cref="FineTuneOptions.Merge"/>) and adapter/ (LoRA, PEFT format).
    /// </summary>
    public FineTuneSummary Export(TrainingMetrics? last = null)
    {
        // Under MPI rank 0 writes everything; the others only report.
        if (!_parallel.IsRoot) return new FineTuneSummary(Step, TokensSeen, last?.Loss, last?.ValidationLoss, 0, Path.Combine(RunDirectory, Trainer.LossPlotFileName), MetricsPath, null, null, null);
        var history = LossCurvePlot.ReadMetrics(MetricsPath);
        last ??= history.LastOrDefault();
        var plot = Path.Combine(RunDirectory, Trainer.LossPlotFileName);
        LossCurvePlot.Write(plot, history, string.Create(CultureInfo.InvariantCulture,
            $"fine-tuning ({(Options.Lora is { } l ? l.ToString() : "all weights")}), T = {SeqLen}, {SequenceCount} sequences × {Options.Epochs} epochs"));
        string? gguf = null, hf = null, adapter = null;
        if (Options.Lora is null || Options.Merge)
        {
            var model = Model.ToModel(RunDirectory);
            gguf = Path.Combine(RunDirectory, Trainer.GgufFileName);
            ModelLoader.Save(model, gguf, "f32", Model.Vocabulary);
            hf = Path.Combine(RunDirectory, Trainer.SafetensorsFolderName);
            ModelLoader.Save(model, hf, "f32");
        }
        if (Options.Lora is not null)
        {
            adapter = Path.Combine(RunDirectory, AdapterFolderName);
            Model.ToLoraAdapter(Options.BaseModel).Save(adapter);
        }
        // Tokens per step are not constant (the last step of an epoch may be short): recover them from the running totals.
        double secs = 0;
        long previous = 0, total = 0;
        foreach (var m in history)
        {
            long stepTokens = m.Tokens - previous;
            previous = m.Tokens;
            if (m.TokensPerSecond > 0) { secs += stepTokens / m.TokensPerSecond; total += stepTokens; }
        }
        return new FineTuneSummary(Step, TokensSeen, last?.Loss, history.LastOrDefault(m => m.ValidationLoss is not null)?.ValidationLoss,
            secs > 0 ? total / secs : 0, plot, MetricsPath, gguf, hf, adapter);
    }
}
