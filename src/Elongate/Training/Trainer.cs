using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Common;
using Elongate.Training.Distributed;

namespace Elongate.Training;

/// <summary>
/// The training loop: packed sequences from prepared shards, gradient accumulation over micro-batches to a fixed
/// number of tokens per step, AdamW with warmup + cosine, validation on fixed windows, atomic checkpoints that
/// resume exactly, metrics.jsonl, and at the end a loss-curve PNG and exports to GGUF and safetensors.
/// </summary>
/// <remarks>
/// Run folder: <c>checkpoint.elck</c> (<see cref="TrainingCheckpoint"/>), <c>metrics.jsonl</c> (one
/// <see cref="TrainingMetrics"/> per step), and after <see cref="Run"/>: <c>loss.png</c>, <c>model.gguf</c> (f32,
/// with vocabulary and RoPE keys) and <c>hf/</c> (config.json + model.safetensors).
/// Exactness of <c>--resume</c>: the only randomness after initialization is the data order, whose whole state is
/// in the checkpoint; parameters and moments are saved as raw fp32; metrics.jsonl is cut back to the checkpoint's
/// step. Every kernel splits its work only across independent outputs (never across a sum), so each value is
/// computed in the same order whatever the thread count: a resumed run's losses equal an uninterrupted run's bit for
/// bit, and <see cref="TrainerOptions.Deterministic"/> (one thread) makes that a promise rather than a property of
/// today's kernels.
/// <para><b>Data parallel</b> (under <c>mpirun</c>, see <see cref="DataParallelStep"/>): the step's micro-batches are
/// split into contiguous shares, one per rank; every rank reads the whole step's sequence stream (skipping the others'
/// shares) so its position is the single-process one, computes its share, and the losses and gradients are summed over
/// ranks before the identical AdamW update on every rank. Rank 0 alone writes metrics.jsonl, checkpoints and exports
/// and validates; the others wait at a barrier after each checkpoint. Checkpoints hold the global data position, so a
/// run resumes with any number of ranks that divides its micro-batches.</para>
/// </remarks>
public sealed class Trainer : IDisposable, ITrainingLoop
{
    public const string MetricsFileName = "metrics.jsonl";
    public const string LossPlotFileName = "loss.png";
    public const string GgufFileName = "model.gguf";
    public const string SafetensorsFolderName = "hf";


    private readonly TrainingData _data;
    private readonly AdamW _optimizer;
    private readonly CosineSchedule _schedule;
    private readonly int[] _inputs, _targets, _segments;
    private readonly List<(int[] Inputs, int[] Targets, int[] Segments)> _validation = [];
    private long _metricsLength;
    private double _elapsedBefore;
    private readonly Stopwatch _clock = new();
    private readonly TrainingGuard _guard;
    private readonly DataParallelStep _parallel;
    private readonly double[] _losses;

    /// <summary>The model being trained (fp32 master weights).</summary>
    public LlamaTrainingModel<float> Model { get; }

    public TrainerOptions Options { get; }
    public string RunDirectory { get; }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>Steps of the whole run (<see cref="TrainerOptions.Steps"/>).</summary>
    public int TotalSteps => Options.Steps;

    /// <summary>Training tokens consumed so far.</summary>
    public long TokensSeen { get; private set; }

    /// <summary>Sequences per optimizer step (tokens per step / sequence length).</summary>
    public int SequencesPerStep { get; }

    /// <summary>Forward/backward passes per optimizer step.</summary>
    public int MicroBatches { get; }

    /// <summary>Called after every step with its metrics (the CLI draws its progress from it).</summary>
    public Action<TrainingMetrics>? StepCompleted { get; set; }

    /// <summary>Test hook: runs inside checkpoint writing, after the parameters are written.</summary>
    internal Action? CheckpointWriteHook { get; set; }

    public string CheckpointPath => Path.Combine(RunDirectory, TrainingCheckpoint.FileName);
    public string MetricsPath => Path.Combine(RunDirectory, MetricsFileName);

    /// <summary>Processes training together (MPI ranks; 1 without MPI).</summary>
    public int WorldSize => _parallel.Communicator.Size;

    private Trainer(LlamaTrainingModel<float> model, TrainerOptions options, TrainingData data, string runDirectory, ICommunicator communicator)
    {
        Model = model;
        Options = options;
        model.MatmulPrecision = options.MatmulPrecision;
        _data = data;
        RunDirectory = runDirectory;
        (SequencesPerStep, MicroBatches) = options.Shape;
        _optimizer = new AdamW(model)
        {
            Beta1 = options.Beta1, Beta2 = options.Beta2, Epsilon = options.Epsilon, WeightDecay = options.WeightDecay, MaxGradNorm = options.MaxGradNorm,
        };
        _schedule = options.Schedule;
        _guard = new TrainingGuard(options.SkipNonFinite, runDirectory);
        _parallel = DataParallelStep.Create(communicator, options.Deterministic, MicroBatches, SequencesPerStep, options.BatchSize);
        _losses = new double[MicroBatches / communicator.Size];
        int bt = options.BatchSize * options.SeqLen;
        _inputs = new int[bt];
        _targets = new int[bt];
        _segments = new int[bt];
        BuildValidationBatches();
    }

    /// <summary>
    /// Starts a run in <paramref name="runDirectory"/>: from random weights (seeded by <see cref="TrainerOptions.Seed"/>)
    /// or, for continual pretraining, from <paramref name="initialWeights"/>. <paramref name="config"/> carries the
    /// RoPE to train with; its vocabulary size must match the data's.
    /// </summary>
    /// <param name="vocabulary">Vocabulary for the checkpoint and the exports; null takes the data's tokenizer's.</param>
    /// <param name="communicator">The data-parallel job (null: this process alone); every rank calls Create with the same arguments.</param>
    /// <exception cref="ArgumentException">Bad options, or the folder already holds a checkpoint (resume it instead).</exception>
    public static Trainer Create(LlamaConfig config, TrainerOptions options, string runDirectory, LlamaWeights? initialWeights = null, TokenVocabulary? vocabulary = null,
        ICommunicator? communicator = null)
    {
        communicator ??= SingleProcessCommunicator.Instance;
        options.Validate();
        var dir = Path.GetFullPath(runDirectory);
        if (File.Exists(Path.Combine(dir, TrainingCheckpoint.FileName)))
            throw new ArgumentException($"{dir} already holds a checkpoint: continue it with --resume, or choose another --out");
        config = config with { MaxPositionEmbeddings = Math.Max(config.MaxPositionEmbeddings, options.SeqLen) };
        config.Validate("<training config>");
        var data = new TrainingData(options);
        try
        {
            if (data.VocabSize != config.VocabSize)
                throw new ArgumentException($"the model's vocabulary has {config.VocabSize} pieces but the data was tokenized with {data.VocabSize}");
            if (vocabulary is not null && !vocabulary.Pieces.SequenceEqual(data.Vocabulary.Pieces))
            {
                int at = Enumerable.Range(0, vocabulary.Count).First(i => vocabulary.Pieces[i] != data.Vocabulary.Pieces[i]);
                throw new ArgumentException($"the model's vocabulary differs from the data's tokenizer (piece {at}: '{vocabulary.Pieces[at]}' vs '{data.Vocabulary.Pieces[at]}'): prepare the data with the model's tokenizer");
            }
            LlamaTrainingModel<float> model;
            if (initialWeights is null)
            {
                model = new LlamaTrainingModel<float>(config, options.BatchSize, options.SeqLen);
                model.InitializeRandom(unchecked((int)options.Seed));
            }
            else
            {
                model = LlamaTrainingModel<float>.FromModel(new LlamaModel { Config = config, Weights = initialWeights, Source = "<initial weights>" },
                    options.BatchSize, options.SeqLen);
            }
            model.Vocabulary = vocabulary ?? data.Vocabulary;
            var trainer = new Trainer(model, options, data, dir, communicator);
            if (communicator.Rank == 0)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllBytes(Path.Combine(dir, MetricsFileName), []);
            }
            // Every rank initialized the same weights from the same seed or file; rank 0's copy makes that certain.
            if (communicator.Size > 1) communicator.Broadcast(model.Parameters, 0);
            return trainer;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>Continues the run saved in <paramref name="runDirectory"/> from its checkpoint.</summary>
    /// <param name="runDirectory">The run folder.</param>
    /// <param name="changes">
    /// Options to change from here on (null: none): a new <see cref="ResumeChanges.Steps"/> continues the cosine schedule
    /// to that end — from the resumed step on the learning rate is the schedule of a run of the new length, so the result
    /// is not bit-identical to a run started with that many steps; a new <see cref="ResumeChanges.LearningRate"/> rescales
    /// the schedule (the usual restart after a divergence); <see cref="ResumeChanges.SkipNonFinite"/> sets the skip budget.
    /// </param>
    /// <exception cref="ModelFormatException">The checkpoint is missing or damaged.</exception>
    /// <param name="communicator">The data-parallel job (null: this process alone). Every rank reads the checkpoint at
    /// the same path (a shared file system); rank 0's parameters and moments are broadcast and the data positions are
    /// checked to agree. The number of ranks may differ from the run's so far.</param>
    /// <exception cref="ArgumentException">A change that does not fit the run (fewer steps than it has done).</exception>
    public static Trainer Resume(string runDirectory, ResumeChanges? changes = null, ICommunicator? communicator = null)
    {
        communicator ??= SingleProcessCommunicator.Instance;
        var dir = Path.GetFullPath(runDirectory);
        var ckpt = TrainingCheckpoint.Load(Path.Combine(dir, TrainingCheckpoint.FileName));
        var options = ckpt.Options;
        if (changes is not null)
        {
            if (changes.Steps is { } steps && steps < ckpt.Step)
                throw new ArgumentException($"--steps {steps} is fewer than the {ckpt.Step} steps the run in {dir} has already done");
            options = options with
            {
                // An explicit schedule length (a stage stopping part-way through its schedule) is kept; a null one is re-laid.
                Steps = changes.Steps ?? options.Steps,
                LearningRate = changes.LearningRate ?? options.LearningRate,
                MinLearningRate = changes.LearningRate is { } lr && options.MinLearningRate is { } min ? min * lr / options.LearningRate : options.MinLearningRate,
                SkipNonFinite = changes.SkipNonFinite ?? options.SkipNonFinite,
            };
        }
        options.Validate();
        var data = new TrainingData(options);
        try
        {
            var model = new LlamaTrainingModel<float>(ckpt.Config, options.BatchSize, options.SeqLen) { Vocabulary = ckpt.Vocabulary };
            if (ckpt.Parameters.Length != model.Parameters.Length)
                throw new ModelFormatException(Path.Combine(dir, TrainingCheckpoint.FileName), $"{ckpt.Parameters.Length} parameters for a config that needs {model.Parameters.Length}");
            ckpt.Parameters.CopyTo(model.Parameters, 0);
            data.Restore(ckpt.Packers, ckpt.MixtureState, ckpt.DataSizes, Path.Combine(dir, TrainingCheckpoint.FileName));
            var trainer = new Trainer(model, options, data, dir, communicator)
            {
                Step = ckpt.Step, TokensSeen = ckpt.TokensSeen, _metricsLength = ckpt.MetricsLength, _elapsedBefore = ckpt.ElapsedSeconds,
            };
            if (communicator.Size > 1)
            {
                // HashCode is seeded per process, so the fingerprint is a plain FNV-1a over the position's numbers.
                long[] numbers = [ckpt.Step, ckpt.TokensSeen, (long)ckpt.MixtureState, ckpt.OptimizerStep, .. ckpt.Packers.SelectMany(p => new long[] { p.Epoch, p.OrderIndex, p.Offset })];
                ulong fingerprint = 14695981039346656037UL;
                foreach (long x in numbers) fingerprint = (fingerprint ^ (ulong)x) * 1099511628211UL;
                if (!trainer._parallel.Agree(unchecked((long)fingerprint)) || !trainer._parallel.Agree(ckpt.Step))
                    throw new ArgumentException($"the ranks read different checkpoints at {Path.Combine(dir, TrainingCheckpoint.FileName)}: every machine must see the same run folder (a shared file system)");
                communicator.Broadcast(model.Parameters, 0);
                communicator.Broadcast(ckpt.FirstMoments, 0);
                communicator.Broadcast(ckpt.SecondMoments, 0);
            }
            trainer._optimizer.RestoreState(ckpt.FirstMoments, ckpt.SecondMoments, ckpt.OptimizerStep);
            trainer._guard.LastCheckpointStep = ckpt.Step;
            // Steps after the checkpoint (a crash came later) are dropped from the metrics: they will be redone.
            if (communicator.Rank == 0)
                using (var f = new FileStream(trainer.MetricsPath, FileMode.OpenOrCreate, FileAccess.Write))
                    if (f.Length > ckpt.MetricsLength) f.SetLength(ckpt.MetricsLength);
            return trainer;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    private void BuildValidationBatches()
    {
        var windows = _data.ValidationWindows(Options.ValidationWindows);
        int B = Options.BatchSize, T = Options.SeqLen;
        for (int start = 0; start < windows.Count; start += B)
        {
            var inputs = new int[B * T];
            var targets = new int[B * T];
            var segments = new int[B * T];
            // A last, partial batch is padded with rows whose targets are all ignored.
            Array.Fill(targets, Model.IgnoreIndex);
            for (int b = 0; b < B && start + b < windows.Count; b++)
            {
                var (tok, seg) = windows[start + b];
                tok.AsSpan(0, T).CopyTo(inputs.AsSpan(b * T));
                tok.AsSpan(1, T).CopyTo(targets.AsSpan(b * T));
                seg.AsSpan(0, T).CopyTo(segments.AsSpan(b * T));
            }
            _validation.Add((inputs, targets, segments));
        }
    }

    /// <summary>True when this run has validation data.</summary>
    public bool HasValidation => _validation.Count > 0;

    /// <summary>Mean cross-entropy per token over the fixed validation windows; null without validation data.</summary>
    public float? Validate() => ValidateCore();

    // Under MPI only rank 0 validates (it alone records the result); the others go on to the next step's collectives.
    private float? ValidateCore()
    {
        if (_validation.Count == 0 || !_parallel.IsRoot) return null;
        double sum = 0;
        long count = 0;
        foreach (var (inputs, targets, segments) in _validation)
        {
            int valid = targets.Count(t => t != Model.IgnoreIndex);
            if (valid == 0) continue;
            float loss = Model.Forward(inputs, targets, Options.DocumentMasking ? segments : default);
            sum += (double)loss * valid;
            count += valid;
        }
        return count == 0 ? null : (float)(sum / count);
    }

    /// <summary>One optimizer step (plus validation and checkpoint when due); returns its metrics.</summary>
    public TrainingMetrics TrainStep()
    {
        if (Step >= Options.Steps) throw new InvalidOperationException($"the run is complete ({Options.Steps} steps)");
        var metrics = TrainStepCore();
        StepCompleted?.Invoke(metrics);
        return metrics;
    }

    private TrainingMetrics TrainStepCore()
    {
        _clock.Start();
        var watch = Stopwatch.StartNew();
        float lr = _schedule.At(Options.ScheduleOffset + Step);
        Model.ZeroGrad();
        var (first, count) = _parallel.BeginStep(MicroBatches);
        for (int mb = 0; mb < MicroBatches; mb++)
        {
            // Other ranks' micro-batches: move past their sequences so this rank's stream stays at the global position.
            if (mb < first || mb >= first + count)
            {
                _data.SkipBatch(Options.BatchSize);
                continue;
            }
            _data.NextBatch(Options.BatchSize, _inputs, _targets, _segments);
            _losses[mb - first] = Model.Forward(_inputs, _targets, Options.DocumentMasking ? _segments : default);
            Model.Backward();
            _parallel.MicroBatchDone(Model.Gradients, mb - first);
        }
        double lossSum = _parallel.SumLosses(_losses);
        _parallel.SumGradients(Model.Gradients);
        // Each micro-batch added the gradient of its own mean; the step's loss is the mean over micro-batches.
        if (MicroBatches > 1) TensorPrimitives.Multiply(Model.Gradients, 1f / MicroBatches, Model.Gradients);
        double loss = lossSum / MicroBatches;
        // AdamW leaves everything untouched when the norm is not finite, so a bad batch never reaches the weights.
        float norm = double.IsFinite(loss) ? _optimizer.Step(Model.Parameters, Model.Gradients, lr) : float.NaN;
        bool skipped = TrainingGuard.IsBad(loss, norm);
        if (skipped) _guard.Skip(Step + 1, loss, norm);
        string? warning = skipped ? $"step {Step + 1}: non-finite loss or gradient, batch skipped ({_guard.Skipped} of --skip-nonfinite {_guard.MaxSkips})"
            : _guard.Observe(Step + 1, loss, norm);
        Step++;
        TokensSeen += Options.TokensPerStep;
        double seconds = watch.Elapsed.TotalSeconds;
        float? val = (Options.ValidateEvery > 0 && Step % Options.ValidateEvery == 0) || Step == Options.Steps ? ValidateCore() : null;
        _clock.Stop();
        var metrics = new TrainingMetrics(Step, (float)loss, lr, norm, Options.TokensPerStep / Math.Max(seconds, 1e-9),
            TokensSeen, val, _elapsedBefore + _clock.Elapsed.TotalSeconds)
        {
            Skipped = skipped ? true : null, Warning = warning,
            Precision = Options.MatmulPrecision == Kernels.GemmPrecision.Fp32 ? null : Options.MatmulPrecision.ToString().ToLowerInvariant(),
        };
        metrics = _parallel.AppendMetrics(MetricsPath, metrics, ref _metricsLength);
        if ((Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0) || Step == Options.Steps) SaveCheckpoint();
        return metrics;
    }

    /// <summary>
    /// Makes this new run the next stage of <paramref name="earlier"/>'s training (a sequence-length curriculum): it
    /// takes over the AdamW moments and step count, the position in the data stream and the count of tokens seen, so
    /// the two stages read one token stream (the packer's position does not depend on the sequence length: a stage at
    /// T tokens continues exactly where one at another T stopped) and follow one optimizer trajectory. The weights are
    /// this run's own (pass the earlier model's to <see cref="Create"/>, with the new RoPE); set
    /// <see cref="TrainerOptions.ScheduleOffset"/> to the earlier run's steps to continue its learning-rate schedule too.
    /// </summary>
    /// <exception cref="ArgumentException">This run has already stepped, or the two do not share parameters and data order
    /// (parameter count, data folders, seed, shuffle chunk, upsampling).</exception>
    public void ContinueFrom(Trainer earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        if (Step != 0) throw new ArgumentException($"a run continues another only before its first step ({RunDirectory} is at step {Step})");
        if (earlier.Model.Parameters.Length != Model.Parameters.Length)
            throw new ArgumentException($"{earlier.RunDirectory} trains {earlier.Model.Parameters.Length} parameters, {RunDirectory} {Model.Parameters.Length}: not the same model");
        var (a, b) = (earlier.Options, Options);
        if (!a.Sources.SequenceEqual(b.Sources) || a.Seed != b.Seed || a.ShuffleChunkTokens != b.ShuffleChunkTokens
            || a.UpsampleThreshold != b.UpsampleThreshold || a.UpsampleFactor != b.UpsampleFactor)
            throw new ArgumentException($"{RunDirectory} cannot continue the data stream of {earlier.RunDirectory}: data folders, seed, shuffle chunk and upsampling must be the same");
        var (packers, mixture) = earlier._data.State;
        _data.Restore(packers, mixture, earlier._data.Sizes, earlier.RunDirectory);
        _optimizer.RestoreState(earlier._optimizer.FirstMoments.Span, earlier._optimizer.SecondMoments.Span, earlier._optimizer.StepCount);
        TokensSeen = earlier.TokensSeen;
    }

    /// <summary>Writes checkpoint.elck atomically (temp file + rename); under MPI rank 0 writes and every rank waits for it.</summary>
    public void SaveCheckpoint()
    {
        if (!_parallel.IsRoot)
        {
            _parallel.Communicator.Barrier();
            _guard.LastCheckpointStep = Step;
            return;
        }
        var (packers, mixture) = _data.State;
        TrainingCheckpoint.Write(CheckpointPath, Model.Config, Options, Model.Vocabulary, Step, _optimizer.StepCount, packers, mixture, _data.Sizes, _metricsLength,
            TokensSeen, _elapsedBefore + _clock.Elapsed.TotalSeconds, Model.Parameters, _optimizer.FirstMoments, _optimizer.SecondMoments, CheckpointWriteHook);
        _parallel.Communicator.Barrier();
        _guard.LastCheckpointStep = Step;
    }

    /// <summary>Trains until <see cref="TrainerOptions.Steps"/>, then writes the loss curve and the exports.</summary>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        TrainingMetrics? last = null;
        while (Step < Options.Steps)
        {
            // All ranks stop after the same step, or one would wait forever in the next step's allreduce.
            if (_parallel.Any(cancellation.IsCancellationRequested)) throw new OperationCanceledException(cancellation);
            last = TrainStep();
        }
        return Export(last);
    }

    /// <summary>Writes loss.png, model.gguf and hf/ from the current weights and the whole metrics history (under MPI: rank 0; the others return the paths it writes).</summary>
    public TrainingSummary Export(TrainingMetrics? last = null)
    {
        if (!_parallel.IsRoot)
            return new TrainingSummary(Step, TokensSeen, last?.Loss, last?.ValidationLoss, 0, Path.Combine(RunDirectory, GgufFileName),
                Path.Combine(RunDirectory, SafetensorsFolderName), Path.Combine(RunDirectory, LossPlotFileName), MetricsPath);
        var history = LossCurvePlot.ReadMetrics(MetricsPath);
        last ??= history.LastOrDefault();
        var plot = Path.Combine(RunDirectory, LossPlotFileName);
        var c = Model.Config;
        LossCurvePlot.Write(plot, history, $"{ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding params, T = {Options.SeqLen}, θ = {c.RopeTheta:G}"
            + (c.RopeScaling is { } s ? $", {s.Type}" : ""));
        var model = Model.ToModel(RunDirectory);
        var gguf = Path.Combine(RunDirectory, GgufFileName);
        ModelLoader.Save(model, gguf, "f32", Model.Vocabulary);
        var hf = Path.Combine(RunDirectory, SafetensorsFolderName);
        ModelLoader.Save(model, hf, "f32");
        var trained = history.Where(m => m.Step > 0).ToArray();
        return new TrainingSummary(Step, TokensSeen, last?.Loss, history.LastOrDefault(m => m.ValidationLoss is not null)?.ValidationLoss,
            trained.Length == 0 ? 0 : trained.Sum(m => (double)Options.TokensPerStep) / Math.Max(1e-9, trained.Sum(m => Options.TokensPerStep / m.TokensPerSecond)),
            gguf, hf, plot, MetricsPath);
    }

    public void Dispose() => _data.Dispose();
}
