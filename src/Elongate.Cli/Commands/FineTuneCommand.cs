using System.CommandLine;
using System.Globalization;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;
using Elongate.Training.Distributed;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate finetune --model M --data FILE.jsonl… --out RUN [--chat-template NAME] [--seq-len N]
/// [--loss answers|answers+input] [--no-mask-across] [--drop-too-long] [--epochs E] [--lr X] [--batch-size B]
/// [--lora-rank R --lora-alpha A --lora-targets q,k,v,o,gate,up,down --lora-dropout P] [--merge] | --resume RUN`:
/// instruction tuning, the paper's second stage. The JSON Lines are read (<see cref="InstructionReader"/>), rendered
/// with the model's chat template and labelled by role (<see cref="InstructionRenderer"/>), laid out the paper's way
/// — short examples packed, long ones padded, never truncated (<see cref="FineTuneSequenceBuilder"/>) — and trained on
/// by <see cref="FineTuner"/> (full fine-tuning, or LoRA adapters on a frozen base).
/// </summary>
public static class FineTuneCommand
{
    /// <summary>Data report files written into the run folder.</summary>
    public const string DataReportFileName = "data-report.json", ValidationReportFileName = "val-data-report.json";

    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Base model: GGUF, llama2.c .bin, a Hugging Face folder, or an Elongate run folder (its model.gguf)" };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer (default: the model's own vocabulary)" };
        var data = new Option<string[]>("--data", "-d")
        {
            Description = "Instruction data, JSON Lines: chat {\"messages\":[…]}, ShareGPT, Alpaca (instruction/input/output) or prompt/completion; several files are concatenated",
            AllowMultipleArgumentsPerToken = true,
        };
        var valData = new Option<string[]>("--val-data")
        {
            Description = "Held-out instruction data (same formats) for the validation loss", AllowMultipleArgumentsPerToken = true,
        };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template name, overriding the model's (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var seqLen = new Option<int?>("--seq-len", "-T") { Description = "Tokens per training sequence (default: the model's context length; the paper: 16,384)" };
        var loss = new Option<string>("--loss")
        {
            Description = "Which tokens carry loss: answers (assistant turns) or answers+input (also the system/user content, i.e. the long input — the paper's Table 9 choice); template tokens never",
            DefaultValueFactory = _ => "answers",
        };
        var noMask = new Option<bool>("--no-mask-across") { Description = "Let packed examples attend to the earlier examples of their sequence (default: each attends only to itself)" };
        var dropTooLong = new Option<bool>("--drop-too-long") { Description = "Leave out (and count) examples longer than --seq-len instead of failing on the first one" };
        var packThreshold = new Option<int?>("--pack-threshold") { Description = "Examples shorter than this are packed, longer ones padded one per sequence (default: --seq-len / 2)" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the data (Llama 2-Chat SFT: 2)", DefaultValueFactory = _ => 2 };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate (default: 2e-5 full fine-tuning, as Llama 2-Chat SFT; 2e-4 with LoRA, as QLoRA)" };
        var minLr = new Option<float?>("--min-lr") { Description = "Floor of the cosine decay (default: 10% of --lr)" };
        var warmup = new Option<int?>("--warmup") { Description = "Linear warm-up steps (default: 3% of the steps)" };
        var weightDecay = new Option<float?>("--weight-decay") { Description = "AdamW weight decay on matrices (default: 0.1 full fine-tuning, 0 with LoRA)" };
        var gradClip = new Option<float>("--grad-clip") { Description = "Clip the global gradient norm to this (0: off)", DefaultValueFactory = _ => 1f };
        var tokensPerStep = new Option<int?>("--tokens-per-step")
        {
            Description = "Tokens per optimizer step; sequences per step = this / --seq-len (must divide), so the step stays constant in tokens as the paper's rule "
                + "(default: Llama 2-Chat SFT's 64 × 4,096 = 262,144, rounded to whole micro-batches of --seq-len)",
        };
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Sequences per forward/backward pass; a step accumulates gradients over the rest", DefaultValueFactory = _ => 1 };
        var weighting = new Option<string>("--loss-weighting")
        {
            Description = "tokens: the step's loss is the mean over all its loss tokens, so examples weigh by their loss tokens (the paper's); "
                + "examples: every example (every segment: with --no-mask-across a packed sequence is one) weighs the same",
            DefaultValueFactory = _ => "tokens",
        };
        var valEvery = new Option<int>("--val-every") { Description = "Validation loss every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the example order, the per-epoch shuffle, the adapters' initialization and dropout", DefaultValueFactory = _ => 1UL };
        var loraRank = new Option<int?>("--lora-rank") { Description = "Train LoRA adapters of this rank instead of every weight (the base stays frozen, in fp32)" };
        var loraAlpha = new Option<float?>("--lora-alpha") { Description = "LoRA alpha; the adapters' output is scaled by alpha/rank (default: 2 × rank)" };
        var loraTargets = new Option<string>("--lora-targets") { Description = "Projections that get adapters", DefaultValueFactory = _ => "q,k,v,o,gate,up,down" };
        var loraDropout = new Option<float>("--lora-dropout") { Description = "Dropout on the adapters' input during training", DefaultValueFactory = _ => 0f };
        var rsLora = new Option<bool>("--rslora") { Description = "Scale the adapters by alpha/√rank (rank-stabilized LoRA)" };
        var merge = new Option<bool>("--merge") { Description = "With LoRA: also write the merged model (model.gguf and hf/) next to adapter/" };
        var checkpointing = new Option<bool>("--gradient-checkpointing") { Description = "Recompute layer activations in the backward instead of storing them (less memory, one more forward)" };
        var deterministic = new Option<bool>("--deterministic") { Description = "Train on one thread, so --resume reproduces an uninterrupted run bit for bit; under mpirun (with -x DOTNET_PROCESSOR_COUNT=1) N ranks also reproduce one process bit for bit" };
        var logEvery = new Option<int>("--log-every") { Description = "When stdout is not a terminal, print one line every N steps", DefaultValueFactory = _ => 10 };
        var output = new Option<string?>("--out", "-o") { Description = "Run folder: checkpoint.elft, metrics.jsonl, loss.png, data-report.json, model.gguf + hf/ (full or --merge), adapter/ (LoRA)" };
        var skipNonFinite = new Option<int>("--skip-nonfinite") { Description = "Skip up to N batches whose loss or gradient is NaN/∞ (no update, counted in metrics.jsonl) instead of stopping at the first", DefaultValueFactory = _ => 0 };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder; everything else comes from its checkpoint (only --log-every may be given with it)" };

        var cmd = new Command("finetune",
            "Instruction-tune a model (the paper's second stage): short examples packed, long ones padded, never truncated; loss on the answers or also on the input; "
            + "full fine-tuning or LoRA; resumable; exports GGUF + safetensors or a PEFT adapter")
        {
            model, tokenizer, data, valData, chatTemplate, seqLen, loss, noMask, dropTooLong, packThreshold, epochs, lr, minLr, warmup, weightDecay, gradClip,
            tokensPerStep, batchSize, weighting, valEvery, checkpointEvery, seed, loraRank, loraAlpha, loraTargets, loraDropout, rsLora, merge, checkpointing,
            deterministic, logEvery, skipNonFinite, output, resume,
        };
        cmd.SetAction(parse => CliErrors.Run(parse, "finetune", (stdout, stderr) =>
        {
            var world = Communicator.World;
            // Under mpirun only rank 0 prints progress; errors still come from every rank.
            if (world.Rank != 0) stdout = TextWriter.Null;
            bool det = parse.GetValue(resume) is { } run
                ? File.Exists(Path.Combine(run, FineTuneCheckpoint.FileName)) && FineTuneCheckpoint.ReadState(Path.Combine(run, FineTuneCheckpoint.FileName)).Options.Deterministic
                : parse.GetValue(deterministic);
            if (det && world.Size == 1 && SingleThreadedProcess.Relaunch(parse, stdout, stderr) is { } exitCode) return exitCode;
            if (parse.GetValue(resume) is { } resumeDir)
            {
                var conflicting = cmd.Options.Where(o => o != resume && o != logEvery && parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
                if (conflicting.Count > 0)
                    throw new ArgumentException($"--resume continues the run with the options saved in its checkpoint; {string.Join(", ", conflicting)} cannot be given with it");
                var resumed = FineTuner.Resume(resumeDir, communicator: world);
                return Run(resumed, stdout, parse.GetValue(logEvery), []);
            }

            var modelPath = parse.GetValue(model) ?? throw new ArgumentException("--model is required (or --resume RUN)");
            var files = parse.GetValue(data) ?? [];
            if (files.Length == 0) throw new ArgumentException("--data is required: JSON Lines instruction data");
            var outDir = parse.GetValue(output) ?? throw new ArgumentException("--out is required (the run folder), or --resume RUN to continue one");
            if (File.Exists(Path.Combine(outDir, FineTuneCheckpoint.FileName)))
                throw new ArgumentException($"{Path.GetFullPath(outDir)} already holds a fine-tuning checkpoint: continue it with --resume, or choose another --out");
            if (Directory.Exists(modelPath) && !File.Exists(Path.Combine(modelPath, "config.json")) && File.Exists(Path.Combine(modelPath, Trainer.GgufFileName)))
                modelPath = Path.Combine(modelPath, Trainer.GgufFileName);
            modelPath = Path.GetFullPath(modelPath);
            using var baseModel = ModelLoader.Load(modelPath);
            var tok = GenerateCommand.LoadTokenizer(parse.GetValue(tokenizer), baseModel);
            var template = ChatTemplate.Resolve(parse.GetValue(chatTemplate), tok.Vocabulary.ChatTemplate, baseModel.Source);
            int T = parse.GetValue(seqLen) ?? baseModel.Config.MaxPositionEmbeddings;
            var lossTokens = parse.GetValue(loss) switch
            {
                "answers" => LossTokens.Answers,
                "answers+input" => LossTokens.AnswersAndInput,
                var other => throw new ArgumentException($"--loss must be answers or answers+input, got '{other}'"),
            };
            var lossWeighting = parse.GetValue(weighting) switch
            {
                "tokens" => LossWeighting.Tokens,
                "examples" => LossWeighting.Examples,
                var other => throw new ArgumentException($"--loss-weighting must be tokens or examples, got '{other}'"),
            };
            LoraSettings? lora = null;
            if (parse.GetValue(loraRank) is { } rank)
            {
                lora = new LoraSettings(rank, parse.GetValue(loraAlpha) ?? 2f * rank, LoraSettings.ParseTargets(parse.GetValue(loraTargets)!),
                    parse.GetValue(loraDropout), parse.GetValue(rsLora));
                lora.Validate();
            }
            else if (new Option[] { loraAlpha, loraDropout, loraTargets, rsLora }.Any(o => parse.GetResult(o) is { Implicit: false }))
                throw new ArgumentException("--lora-alpha, --lora-targets, --lora-dropout and --rslora need --lora-rank");
            var options = new FineTuneOptions
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batchSize), LearningRate = parse.GetValue(lr),
                TokensPerStep = parse.GetValue(tokensPerStep) ?? FineTuneOptions.DefaultTokensPerStepFor(T, Math.Max(1, parse.GetValue(batchSize))),
                MinLearningRate = parse.GetValue(minLr), WarmupSteps = parse.GetValue(warmup), WeightDecay = parse.GetValue(weightDecay), MaxGradNorm = parse.GetValue(gradClip),
                LossWeighting = lossWeighting, Seed = parse.GetValue(seed), ValidateEvery = parse.GetValue(valEvery), CheckpointEvery = parse.GetValue(checkpointEvery),
                Lora = lora, Merge = parse.GetValue(merge), BaseModel = modelPath, GradientCheckpointing = parse.GetValue(checkpointing), Deterministic = det,
                SkipNonFinite = parse.GetValue(skipNonFinite),
            };
            options.Validate(T);
            var sequenceOptions = new FineTuneSequenceOptions
            {
                SeqLen = T, Loss = lossTokens, MaskAcrossExamples = !parse.GetValue(noMask), DropTooLong = parse.GetValue(dropTooLong),
                PackThreshold = parse.GetValue(packThreshold), Seed = options.Seed, PadId = FineTuneSequenceOptions.PadIdFor(tok.Vocabulary),
            };
            var (train, trainReport) = BuildSet(files, tok, template, sequenceOptions);
            var header = new List<string> { $"data: {Describe(trainReport)}" };
            List<FineTuneSequence>? validation = null;
            FineTuneReport? valReport = null;
            if (parse.GetValue(valData) is { Length: > 0 } valFiles)
            {
                (validation, valReport) = BuildSet(valFiles, tok, template, sequenceOptions);
                header.Add($"validation: {Describe(valReport)}");
            }
            if (train.Count == 0) throw new ArgumentException("no training sequences: every example was dropped");
            var tuner = FineTuner.Create(baseModel, train, options, outDir, validation, world);
            if (world.Rank == 0)
            {
                trainReport.Save(Path.Combine(tuner.RunDirectory, DataReportFileName));
                valReport?.Save(Path.Combine(tuner.RunDirectory, ValidationReportFileName));
            }
            header.Insert(0, $"fine-tuning {baseModel.Source} with chat template {template.Name}");
            return Run(tuner, stdout, parse.GetValue(logEvery), header);
        }));
        return cmd;
    }

    /// <summary>Reads, renders and lays out the instruction examples of <paramref name="files"/>.</summary>
    private static (List<FineTuneSequence>, FineTuneReport) BuildSet(IEnumerable<string> files, ITokenizer tok, ChatTemplate template, FineTuneSequenceOptions options)
    {
        var labeled = new List<LabeledExample>();
        foreach (var file in files)
            foreach (var example in InstructionReader.Read(file))
                labeled.Add(InstructionRenderer.Render(example, tok, template));
        if (labeled.Count == 0) throw new ArgumentException($"{string.Join(", ", files)}: no examples");
        var set = FineTuneSequenceBuilder.Build(labeled, options);
        return (set.Sequences, set.Report);
    }

    private static string Describe(FineTuneReport r) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{r.Examples} examples ({r.PackedExamples} packed, {r.PaddedExamples} padded, {r.DroppedExamples} dropped as too long{(r.ExamplesWithoutLoss > 0 ? $", {r.ExamplesWithoutLoss} without loss tokens" : "")}) ")
        + string.Create(CultureInfo.InvariantCulture,
            $"→ {r.Rows} sequences of {r.SeqLen}; {r.Tokens} tokens, {r.LossTokenCount} with loss ({(r.Loss == LossTokens.Answers ? "answers" : "answers+input")}), padding {r.PaddingShare:P1}")
        + string.Create(CultureInfo.InvariantCulture, $"; example lengths median {r.Lengths.Median}, p90 {r.Lengths.P90}, max {r.Lengths.Max}");

    private static int Run(FineTuner tuner, TextWriter stdout, int logEvery, IEnumerable<string> extraHeader)
    {
        var o = tuner.Options;
        var c = tuner.Model.Config;
        long total = tuner.Model.Parameters.Length;
        var header = new List<string>(extraHeader)
        {
            string.Create(CultureInfo.InvariantCulture,
                $"model: {total / 1e6:F2}M parameters, dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads}/{c.NumKvHeads} heads, ffn {c.IntermediateSize}, vocab {c.VocabSize}; RoPE θ {c.RopeTheta:G}{(c.RopeScaling is { } s ? ", " + s : "")}"),
            o.Lora is { } l
                ? string.Create(CultureInfo.InvariantCulture, $"training: {l}, scale {l.Scaling:G4}; {tuner.TrainableParameters / 1e6:F3}M adapter parameters ({100.0 * tuner.TrainableParameters / total:F2}% of the model), base frozen in fp32")
                : string.Create(CultureInfo.InvariantCulture, $"training: every weight ({total / 1e6:F2}M parameters)"),
            string.Create(CultureInfo.InvariantCulture,
                $"steps {tuner.Step}→{tuner.TotalSteps}: {o.Epochs} epochs × {tuner.StepsPerEpoch} steps; {tuner.SequencesPerStep} of {tuner.SequenceCount} sequences × {tuner.SeqLen} tokens per step, {tuner.MicroBatches} micro-batches of {o.BatchSize}; ")
                + string.Create(CultureInfo.InvariantCulture,
                    $"lr {o.PeakLearningRate:G3}, warmup {tuner.WarmupSteps}, weight decay {o.EffectiveWeightDecay:G3}, loss weighting {o.LossWeighting.ToString().ToLowerInvariant()}")
                + (o.Deterministic ? $", deterministic ({Environment.ProcessorCount} thread{(Environment.ProcessorCount == 1 ? "" : "s")})" : ""),
        };
        if (tuner.WorldSize > 1)
            header.Add($"data parallel: {tuner.WorldSize} ranks × {tuner.MicroBatches / tuner.WorldSize} micro-batches each; gradients summed with MPI_Allreduce{(o.Deterministic ? " (ordered, deterministic)" : "")}");
        if (tuner.SequencesPerStep * tuner.SeqLen < o.TokensPerStep)
            header.Add(string.Create(CultureInfo.InvariantCulture,
                $"note: --tokens-per-step {o.TokensPerStep} asks for {o.TokensPerStep / tuner.SeqLen} sequences per step but the data has {tuner.SequenceCount}: each epoch is one step; lower --tokens-per-step for more steps"));
        return TrainingRunner.RunLoop(tuner, stdout, logEvery, header, ct =>
        {
            var summary = tuner.Run(ct);
            var written = new[] { summary.GgufPath, summary.SafetensorsFolder is { } hf ? hf + "/" : null, summary.AdapterFolder is { } ad ? ad + "/" : null, summary.LossPlotPath, summary.MetricsPath }
                .Where(p => p is not null);
            return
            [
                string.Create(CultureInfo.InvariantCulture,
                    $"done: {summary.Steps} steps, {summary.Tokens} tokens, loss {summary.FinalLoss:F4}, val loss {(summary.FinalValidationLoss is { } vl ? vl.ToString("F4", CultureInfo.InvariantCulture) : "n/a")}, {summary.TokensPerSecond:F0} tokens/s"),
                $"wrote {string.Join(", ", written)}",
            ];
        });
    }
}
