using System.CommandLine;
using Elongate.Data;
using Elongate.Training;

namespace Elongate.Cli.Commands;

/// <summary>The options `train` and `extend` share: data, step shape, optimizer, schedule, validation, checkpoints.</summary>
internal sealed class TrainingOptionSet
{
    public Option<string[]> Data { get; } = new("--data", "-d")
    {
        Description = "Prepared data folder(s) from `elongate data prepare`; NAME=DIR names a source for --mix (default name: the folder's name)",
        AllowMultipleArgumentsPerToken = true,
    };
    public Option<string?> Mix { get; } = new("--mix") { Description = "Mixture weights over --data sources: name=weight,name=weight (default: in proportion to their training tokens)" };
    public Option<int?> SeqLen { get; } = new("--seq-len", "-T") { Description = "Tokens per training sequence" };
    public Option<int?> TokensPerStep { get; } = new("--tokens-per-step") { Description = "Tokens per optimizer step; sequences per step = tokens-per-step / seq-len (must divide), so a longer --seq-len means fewer sequences per step (the paper's rule)" };
    public Option<int> BatchSize { get; } = new("--batch-size", "-b") { Description = "Sequences per forward/backward pass; a step accumulates gradients over (sequences per step / batch size) of them", DefaultValueFactory = _ => 1 };
    public Option<int?> Steps { get; } = new("--steps", "-n") { Description = "Optimizer steps" };
    public Option<float?> MinLr { get; } = new("--min-lr") { Description = "Floor of the cosine decay (default: 10% of --lr, as Llama 2)" };
    public Option<int?> Warmup { get; } = new("--warmup") { Description = "Linear warmup steps (default: min(2000, steps/10): Llama 2's 2,000 scaled down for short runs)" };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "AdamW decoupled weight decay on matrices (not norms)", DefaultValueFactory = _ => 0.1f };
    public Option<float> GradClip { get; } = new("--grad-clip") { Description = "Clip the global gradient norm to this (0: off)", DefaultValueFactory = _ => 1f };
    public Option<int> ValEvery { get; } = new("--val-every") { Description = "Validation loss every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
    public Option<int> ValWindows { get; } = new("--val-windows") { Description = "Fixed validation windows (of --seq-len tokens) per source", DefaultValueFactory = _ => 16 };
    public Option<int> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "Checkpoint every N steps (0: only at the end); written atomically to RUN/checkpoint.elck", DefaultValueFactory = _ => 0 };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of the data order (and of the initial weights)", DefaultValueFactory = _ => 1UL };
    public Option<int> ShuffleChunk { get; } = new("--shuffle-chunk") { Description = "Shuffle documents in chunks of this many tokens instead of whole (0: whole documents); use it when the corpus is a few long books", DefaultValueFactory = _ => 0 };
    public Option<int> UpsampleThreshold { get; } = new("--upsample-threshold") { Description = "Repeat documents longer than this many tokens --upsample-factor times per epoch (0: off)", DefaultValueFactory = _ => 0 };
    public Option<int> UpsampleFactor { get; } = new("--upsample-factor") { Description = "Repeats of a long document per epoch", DefaultValueFactory = _ => 2 };
    public Option<bool> DocMask { get; } = new("--doc-mask") { Description = "Mask attention across document boundaries inside packed sequences (default off, like Llama 2)" };
    public Option<bool> Deterministic { get; } = new("--deterministic") { Description = "Train on one thread (the command re-runs itself with DOTNET_PROCESSOR_COUNT=1), so --resume reproduces an uninterrupted run's losses bit for bit; under mpirun (with -x DOTNET_PROCESSOR_COUNT=1) N ranks also reproduce one process bit for bit" };
    public Option<int> LogEvery { get; } = new("--log-every") { Description = "When stdout is not a terminal, print one line every N steps", DefaultValueFactory = _ => 10 };
    public Option<string?> Out { get; } = new("--out", "-o") { Description = "Run folder: checkpoint.elck, metrics.jsonl, loss.png, model.gguf, hf/" };
    public Option<string> Precision { get; } = new("--precision")
    {
        Description = "Input format of the linear layers' matrix products: fp32, or bf16 (inputs rounded to bfloat16, fp32 accumulation; master weights, "
            + "AdamW state, gradients, norms, softmax and attention stay fp32 — PyTorch autocast's split). bf16 is emulated on this CPU path; see docs/kernels-perf.md",
        DefaultValueFactory = _ => "fp32",
    };
    public Option<int> SkipNonFinite { get; } = new("--skip-nonfinite") { Description = "Skip up to N batches whose loss or gradient is NaN/∞ (no update, counted in metrics.jsonl) instead of stopping at the first", DefaultValueFactory = _ => 0 };
    public Option<string?> Resume { get; } = new("--resume")
    {
        Description = "Continue the run in this folder from its checkpoint. Its options come from the checkpoint; only --steps (train on to a later end: the cosine "
            + "schedule is re-laid to the new length from the resumed step), --lr (rescale the schedule, e.g. after a divergence), --skip-nonfinite and --log-every may be given",
    };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Data, Mix, SeqLen, TokensPerStep, BatchSize, Steps, MinLr, Warmup, WeightDecay, GradClip, ValEvery, ValWindows,
                     CheckpointEvery, Seed, ShuffleChunk, UpsampleThreshold, UpsampleFactor, DocMask, Deterministic, Precision, LogEvery, SkipNonFinite, Out, Resume })
            command.Options.Add(o);
    }

    /// <summary>The data sources named on the command line, with --mix weights.</summary>
    public IReadOnlyList<TrainingSource> Sources(ParseResult parse)
    {
        var data = parse.GetValue(Data) ?? [];
        if (data.Length == 0) throw new ArgumentException("--data is required (a folder written by `elongate data prepare`)");
        var sources = new List<TrainingSource>();
        foreach (var d in data)
        {
            int eq = d.IndexOf('=');
            string name = eq > 0 ? d[..eq] : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)));
            string dir = Path.GetFullPath(eq > 0 ? d[(eq + 1)..] : d);
            if (!Directory.Exists(dir)) throw new ArgumentException($"--data {dir}: no such folder");
            sources.Add(new TrainingSource(name, dir));
        }
        if (parse.GetValue(Mix) is { } mix)
        {
            var weights = MixtureSampler.Parse(mix).ToDictionary(w => w.Name, w => w.Weight);
            foreach (var name in weights.Keys)
                if (!sources.Any(s => s.Name == name)) throw new ArgumentException($"--mix names '{name}', which is not a --data source ({string.Join(", ", sources.Select(s => s.Name))})");
            var missing = sources.Where(s => !weights.ContainsKey(s.Name)).Select(s => s.Name).ToArray();
            if (missing.Length > 0) throw new ArgumentException($"--mix gives no weight for {string.Join(", ", missing)}");
            sources = sources.Select(s => s with { Weight = weights[s.Name] }).ToList();
        }
        return sources;
    }

    /// <summary>Builds the options of a new run; <paramref name="defaultLr"/> differs between train and extend.</summary>
    public TrainerOptions Build(ParseResult parse, float learningRate, int? tokensPerStepDefault = null)
    {
        int seqLen = parse.GetValue(SeqLen) ?? throw new ArgumentException("--seq-len is required");
        int tokens = parse.GetValue(TokensPerStep) ?? tokensPerStepDefault ?? throw new ArgumentException("--tokens-per-step is required");
        int steps = parse.GetValue(Steps) ?? throw new ArgumentException("--steps is required");
        return new TrainerOptions
        {
            Sources = Sources(parse), SeqLen = seqLen, TokensPerStep = tokens, BatchSize = parse.GetValue(BatchSize), Steps = steps,
            LearningRate = learningRate, MinLearningRate = parse.GetValue(MinLr), WarmupSteps = parse.GetValue(Warmup) ?? DefaultWarmup(steps),
            WeightDecay = parse.GetValue(WeightDecay), MaxGradNorm = parse.GetValue(GradClip), ValidateEvery = parse.GetValue(ValEvery),
            ValidationWindows = parse.GetValue(ValWindows), CheckpointEvery = parse.GetValue(CheckpointEvery), Seed = parse.GetValue(Seed),
            ShuffleChunkTokens = parse.GetValue(ShuffleChunk), UpsampleThreshold = parse.GetValue(UpsampleThreshold), UpsampleFactor = parse.GetValue(UpsampleFactor),
            DocumentMasking = parse.GetValue(DocMask), Deterministic = parse.GetValue(Deterministic), SkipNonFinite = parse.GetValue(SkipNonFinite),
            MatmulPrecision = ParsePrecision(parse.GetValue(Precision)),
        };
    }

    /// <summary>"fp32" or "bf16" (any case) as a <see cref="Kernels.GemmPrecision"/>.</summary>
    public static Kernels.GemmPrecision ParsePrecision(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "fp32" or "f32" => Kernels.GemmPrecision.Fp32,
        "bf16" => Kernels.GemmPrecision.Bf16,
        _ => throw new ArgumentException($"--precision {text}: expected fp32 or bf16 (fp16 is not offered: see docs/kernels-perf.md)"),
    };

    /// <summary>
    /// The changes a `--resume` may make (--steps, --lr, --skip-nonfinite); any other option of <paramref name="command"/>
    /// given on the command line conflicts with the checkpoint and is refused, rather than silently ignored.
    /// </summary>
    /// <exception cref="ArgumentException">Options that cannot change on resume were given.</exception>
    public ResumeChanges ResumeChanges(ParseResult parse, Command command, Option<float> learningRate)
    {
        var allowed = new HashSet<Option> { Resume, Steps, learningRate, SkipNonFinite, LogEvery };
        var conflicting = command.Options.Where(o => !allowed.Contains(o) && parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (conflicting.Count > 0)
            throw new ArgumentException($"--resume continues the run with the options saved in its checkpoint; {string.Join(", ", conflicting)} cannot change "
                + "(allowed with --resume: --steps, --lr, --skip-nonfinite, --log-every)");
        return new ResumeChanges(parse.GetValue(Steps), parse.GetResult(learningRate) is { Implicit: false } ? parse.GetValue(learningRate) : null,
            parse.GetResult(SkipNonFinite) is { Implicit: false } ? parse.GetValue(SkipNonFinite) : null);
    }

    /// <summary>
    /// For a deterministic run (asked for now, or recorded in the checkpoint being resumed) in a process with more than
    /// one processor: the exit code of the same command run single-threaded in a child; null to go on in process.
    /// </summary>
    public int? RelaunchIfDeterministic(ParseResult parse, TextWriter stdout, TextWriter stderr)
    {
        bool deterministic = parse.GetValue(Resume) is { } run
            ? File.Exists(Path.Combine(run, TrainingCheckpoint.FileName)) && TrainingCheckpoint.ReadOptions(Path.Combine(run, TrainingCheckpoint.FileName)).Deterministic
            : parse.GetValue(Deterministic);
        return deterministic ? SingleThreadedProcess.Relaunch(parse, stdout, stderr) : null;
    }

    /// <summary>Llama 2 and the paper warm up for 2,000 steps; a short run warms up for a tenth of its steps instead.</summary>
    public static int DefaultWarmup(int steps) => Math.Min(2000, steps / 10);

    /// <summary>The run folder for a new run (--out) and a check that --resume was not also given.</summary>
    public string OutDirectory(ParseResult parse) =>
        parse.GetValue(Out) ?? throw new ArgumentException("--out is required (the run folder), or --resume RUN to continue one");
}
