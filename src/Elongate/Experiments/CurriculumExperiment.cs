using System.Diagnostics;
using System.Globalization;
using Elongate.Evaluation;
using Elongate.Formats;
using Elongate.Evaluation.Tasks;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;
using MathNet.Numerics.Distributions;

namespace Elongate.Experiments;

/// <summary>
/// The paper's training-curriculum ablation (Xiong et al. 2023, §4.4, Table 10) in miniature: with the same total
/// training tokens, a model trained at the long length from scratch against two-stage curricula that train at the
/// short length and switch to the long one at 20%, 40% and 80% of the tokens (ABF: θ × 50 from the switch on, as the
/// paper's continual pretraining does; the model trained from scratch uses that θ throughout). Reports each model's
/// held-out loss at the long length, passkey retrieval, and the FLOPs it took (<see cref="TrainingFlops"/>), and
/// computes whether continual pretraining reaches from-scratch quality at less compute.
/// </summary>
/// <remarks>
/// The comparison is controlled: for one seed every curriculum starts from the same initial weights, reads the same
/// token stream (the long stage continues the short stage's data position, <see cref="Trainer.ContinueFrom"/>) and
/// follows one warmup + cosine learning-rate schedule over all its steps, with the AdamW state carried across the
/// switch; only the sequence length (and θ) of each step differs. Curricula share their short stage: the short run
/// trains to the first switch, the long stage branches off it, and the short run is resumed (exactly, from its
/// checkpoint) to the next switch. The verdict's interval is a t-interval over seeds when there are several (training
/// and evaluation noise), else a paired bootstrap over the held-out windows (evaluation noise only).
/// </remarks>
public static class CurriculumExperiment
{
    public const string ReportFileName = "report.md";
    public const string ResultsFileName = "results.json";

    /// <summary>Runs the whole experiment.</summary>
    /// <param name="log">Hears one line per phase and evaluation.</param>
    /// <param name="runTrainer">Trains a created trainer to its last step (the CLI passes its progress display); null calls <see cref="Trainer.Run"/>.</param>
    public static CurriculumResult Run(CurriculumOptions options, Action<string>? log = null, Action<Trainer>? runTrainer = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var total = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Log(string s) => log?.Invoke(s);
        var outDir = RopeAblation.FreshOutputDirectory(options.OutputDirectory);

        var switches = options.Switches.Order().ToList();
        int modelsPerSeed = 1 + switches.Count, phaseCount = 2 + options.Seeds.Count * modelsPerSeed, phase = 0;
        string Phase() => $"[{++phase}/{phaseCount}] phase: ";
        var watch = Stopwatch.StartNew();
        Log(Phase() + "data");
        var (prepared, tokenizerPath, valTexts, corpusName, _) = RopeAblation.PrepareData(options.CorpusSettings(outDir), outDir, Log);
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        using var evalCorpus = options.EvalCorpusPath is { } ec ? EvalCorpus.Open(ec) : EvalCorpus.FromTexts(valTexts, "held-out documents");
        string evalName = options.EvalCorpusPath is { } p ? Path.GetFullPath(p) : "documents split off the training corpus";
        int T = options.ShortLength, TL = options.LongLength;
        var windows = LongWindows(evalCorpus.TokenDocuments(tokenizer), TL, options.LossWindows);
        if (windows.Count == 0) throw new ArgumentException($"no held-out document ({evalName}) has the {TL + 1} tokens one long window needs");
        Log(string.Create(CultureInfo.InvariantCulture, $"data ready: {windows.Count} held-out windows of {TL} tokens from {evalName}; vocabulary {tokenizer.Vocabulary.Count}"));

        int batch = options.TokensPerStep / TL;
        var presetConfig = ModelPresets.Create(options.Preset, tokenizer.Vocabulary.Count, T);
        var shortConfig = presetConfig with { RopeTheta = options.ShortTheta(presetConfig.HeadDim) };
        var longConfig = shortConfig with { RopeTheta = shortConfig.RopeTheta * options.AbfFactor, MaxPositionEmbeddings = TL };
        IReadOnlyList<TrainingSource> sources = [new TrainingSource("data", prepared)];
        if (options.RetrievalShare > 0)
        {
            var (trainTexts, _, _) = ExperimentCorpus.Texts(options.CorpusSettings(outDir));
            var retrieval = ExperimentCorpus.PrepareRetrieval(trainTexts, tokenizerPath, tokenizer, TL - 2,
                (long)(options.RetrievalShare * options.Steps * options.TokensPerStep * 1.25), options.Seeds[0], Path.Combine(outDir, "data"), Log);
            sources = [new TrainingSource("data", prepared, 1 - options.RetrievalShare), new TrainingSource("retrieval", retrieval, options.RetrievalShare, WholeDocuments: true, AnswersOnly: options.RetrievalAnswersOnly)];
        }
        phases["data"] = watch.Elapsed.TotalSeconds;
        TrainerOptions Train(int seqLen, int steps, ulong seed, int offset = 0, int? scheduleSteps = null) => new()
        {
            Sources = sources, SeqLen = seqLen, TokensPerStep = options.TokensPerStep, BatchSize = batch,
            Steps = steps, LearningRate = options.LearningRate, WarmupSteps = Math.Max(1, options.Steps / 10), Seed = seed, ValidationWindows = 8,
            ShuffleChunkTokens = options.ShuffleChunkTokens, ScheduleOffset = offset, ScheduleSteps = scheduleSteps,
        };
        var runner = runTrainer ?? (t => t.Run(cancellation));
        var passkeyLengths = new[] { T, TL }.Where(l => Fits(() => PasskeyEvaluation.FitPrompt(tokenizer, 12345, 0.5, l))).ToList();
        var runs = new List<CurriculumRun>();

        CurriculumStage Stage(Trainer t, LlamaConfig c, int fromStep)
        {
            var metrics = LossCurvePlot.ReadMetrics(t.MetricsPath);
            double seconds = (metrics.LastOrDefault()?.ElapsedSeconds ?? 0) - (fromStep == 0 ? 0 : metrics.First(m => m.Step == fromStep).ElapsedSeconds);
            int steps = t.Step - fromStep;
            long tokens = (long)steps * options.TokensPerStep;
            double perToken = TrainingFlops.PerToken(c, t.Options.SeqLen);
            return new CurriculumStage(t.Options.SeqLen, c.RopeTheta, steps, tokens, perToken, tokens * perToken, TrainingFlops.AttentionShare(c, t.Options.SeqLen), seconds);
        }

        CurriculumRun Evaluate(string variant, double switchAt, ulong seed, LlamaModel model, IReadOnlyList<CurriculumStage> stages, float? finalLoss, string runDir)
        {
            var w = Stopwatch.StartNew();
            void EvalLog(string s) => Log($"eval {variant} (seed {seed}): {s}");
            var session = new InferenceSession(model, TL);
            var longLosses = new double[windows.Count];
            double shortSum = 0;
            long shortTokens = 0;
            for (int i = 0; i < windows.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                longLosses[i] = ContextLoss.Evaluate(session, [windows[i]], TL).MeanLoss;
                var s = ContextLoss.Evaluate(session, [windows[i]], T);
                shortSum += s.MeanLoss * s.ScoredTokens;
                shortTokens += s.ScoredTokens;
            }
            double longLoss = longLosses.Average(), shortLoss = shortSum / shortTokens;
            EvalLog(string.Create(CultureInfo.InvariantCulture, $"loss {longLoss:F4} in {TL}-token windows, {shortLoss:F4} in {T}-token windows ({windows.Count * TL} tokens)"));
            double? pkShort = null, pkLong = null;
            if (passkeyLengths.Count > 0)
            {
                var pk = PasskeyEvaluation.Evaluate(model, tokenizer, new PasskeyOptions
                {
                    Lengths = passkeyLengths, Depths = options.PasskeyDepths, Trials = options.PasskeyTrials, Seed = (int)(seed % int.MaxValue),
                }, EvalLog);
                double? At(int l) => passkeyLengths.Contains(l) ? pk.Cells.Where(c => c.Length == l).Average(c => c.Score) : null;
                (pkShort, pkLong) = (At(T), At(TL));
            }
            return new CurriculumRun(variant, switchAt, seed, stages, stages.Sum(s => s.Flops), longLoss, shortLoss, longLosses, pkLong, pkShort, finalLoss,
                w.Elapsed.TotalSeconds, Path.GetRelativePath(outDir, runDir));
        }

        foreach (var seed in options.Seeds)
        {
            var seedDir = Path.Combine(outDir, "runs", $"seed-{seed}");
            cancellation.ThrowIfCancellationRequested();
            watch.Restart();
            Log(Phase() + $"seed {seed}: train from scratch at {TL} tokens, θ {longConfig.RopeTheta:G5} ({options.Steps} steps × {options.TokensPerStep} tokens)");
            using (var scratch = Trainer.Create(longConfig, Train(TL, options.Steps, seed), Path.Combine(seedDir, "scratch")))
            {
                runner(scratch);
                cancellation.ThrowIfCancellationRequested();
                var stage = Stage(scratch, longConfig, 0);
                runs.Add(Evaluate("scratch", 0, seed, scratch.Model.ToModel(scratch.RunDirectory), [stage],
                    LossCurvePlot.ReadMetrics(scratch.MetricsPath).LastOrDefault()?.Loss, scratch.RunDirectory));
            }
            phases[$"seed {seed}: scratch"] = watch.Elapsed.TotalSeconds;

            var shortDir = Path.Combine(seedDir, "short");
            Trainer? shortRun = null;
            try
            {
                foreach (var f in switches)
                {
                    cancellation.ThrowIfCancellationRequested();
                    watch.Restart();
                    int k = options.SwitchStep(f);
                    string name = Name(f);
                    Log(Phase() + $"seed {seed}: {name}: {k} steps at {T} tokens (θ {shortConfig.RopeTheta:G5}), then {options.Steps - k} at {TL} (θ {longConfig.RopeTheta:G5})");
                    if (shortRun is null) shortRun = Trainer.Create(shortConfig, Train(T, k, seed, scheduleSteps: options.Steps), shortDir);
                    else
                    {
                        shortRun.Dispose();
                        shortRun = null;
                        shortRun = Trainer.Resume(shortDir, new ResumeChanges(Steps: k));
                    }
                    runner(shortRun);
                    cancellation.ThrowIfCancellationRequested();
                    var shortStage = Stage(shortRun, shortConfig, 0);
                    var weights = shortRun.Model.ToModel(shortRun.RunDirectory).Weights;
                    using var longRun = Trainer.Create(longConfig, Train(TL, options.Steps - k, seed, offset: k), Path.Combine(seedDir, name),
                        weights, shortRun.Model.Vocabulary);
                    longRun.ContinueFrom(shortRun);
                    runner(longRun);
                    cancellation.ThrowIfCancellationRequested();
                    var longStage = Stage(longRun, longConfig, 0);
                    runs.Add(Evaluate(name, f, seed, longRun.Model.ToModel(longRun.RunDirectory), [shortStage, longStage],
                        LossCurvePlot.ReadMetrics(longRun.MetricsPath).LastOrDefault()?.Loss, longRun.RunDirectory));
                    phases[$"seed {seed}: {name}"] = watch.Elapsed.TotalSeconds;
                }
            }
            finally
            {
                shortRun?.Dispose();
            }
        }

        watch.Restart();
        Log(Phase() + "summary, charts and report");
        var summary = Summarize(runs, switches, options.Margin);
        double margin = options.Margin * summary[0].LongLoss;
        CurriculumPlots.Write(outDir, runs, options);
        var c0 = shortConfig;
        string model = string.Create(CultureInfo.InvariantCulture,
            $"preset {options.Preset}: dim {c0.HiddenSize}, {c0.NumLayers} layers, {c0.NumHeads} heads (head dim {c0.HeadDim}), ffn {c0.IntermediateSize}, vocab {c0.VocabSize}; {ModelPresets.NonEmbeddingParameters(c0) / 1e6:F2}M non-embedding parameters");
        var conclusion = Conclude(summary, runs, options, margin);
        phases["summary"] = watch.Elapsed.TotalSeconds;
        var result = new CurriculumResult(options, shortConfig.RopeTheta, corpusName, evalName, tokenizerPath, tokenizer.Vocabulary.Count, model, TrainingFlops.Formula, margin,
            runs, summary, conclusion, phases, total.Elapsed.TotalSeconds);
        EvalJson.Write(Path.Combine(outDir, ResultsFileName), result);
        CurriculumReport.Write(Path.Combine(outDir, ReportFileName), result);
        Log(conclusion);
        return result;
    }

    /// <summary>The variant name of a switch fraction, e.g. "switch-20%".</summary>
    public static string Name(double switchAt) => switchAt == 0 ? "scratch" : string.Create(CultureInfo.InvariantCulture, $"switch-{switchAt * 100:0.#}%");

    /// <summary>The held-out documents cut into windows of <paramref name="length"/> + 1 tokens (one shared with the next), at most <paramref name="max"/>.</summary>
    internal static List<int[]> LongWindows(IReadOnlyList<int[]> documents, int length, int max)
    {
        var list = new List<int[]>();
        foreach (var d in RopeAblation.SameTokensAtEveryLength(documents, length, max))
            for (int start = 0; start + length + 1 <= d.Length; start += length)
                list.Add(d[start..(start + length + 1)]);
        return list;
    }

    /// <summary>
    /// Per curriculum over the seeds: mean losses, FLOPs ratio and the loss difference to scratch with its 95% interval
    /// (t over seeds with two or more, paired bootstrap over windows with one) and the verdict against the margin
    /// (a share of scratch's loss): reaches when the upper end is within it, falls short when the lower end is beyond it.
    /// </summary>
    internal static List<CurriculumSummary> Summarize(IReadOnlyList<CurriculumRun> runs, IReadOnlyList<double> switches, double marginShare)
    {
        var scratch = runs.Where(r => r.SwitchAt == 0).OrderBy(r => r.Seed).ToList();
        if (scratch.Count == 0) throw new ArgumentException("no from-scratch run to compare with");
        double scratchLoss = scratch.Average(r => r.LongLoss), scratchFlops = scratch[0].Flops, margin = marginShare * scratchLoss;
        double? Sd(IReadOnlyList<double> xs) => xs.Count < 2 ? null : Math.Sqrt(xs.Sum(x => (x - xs.Average()) * (x - xs.Average())) / (xs.Count - 1));
        double? Mean(IEnumerable<double?> xs) => xs.All(x => x is null) ? null : xs.Where(x => x is not null).Average(x => x!.Value);
        var list = new List<CurriculumSummary>
        {
            new("scratch", 0, scratchFlops, 1, scratchLoss, Sd(scratch.Select(r => r.LongLoss).ToList()), scratch.Average(r => r.ShortLoss),
                Mean(scratch.Select(r => r.PasskeyLong)), 0, 0, 0, "", "reference", scratch.Average(r => r.TrainSeconds)),
        };
        foreach (var f in switches)
        {
            var mine = runs.Where(r => r.SwitchAt == f).OrderBy(r => r.Seed).ToList();
            var paired = mine.Select(r => (Mine: r, Scratch: scratch.First(s => s.Seed == r.Seed))).ToList();
            var diffs = paired.Select(x => x.Mine.LongLoss - x.Scratch.LongLoss).ToList();
            double d = diffs.Average(), lo, hi;
            string basis;
            if (diffs.Count >= 2)
            {
                double half = StudentT.InvCDF(0, 1, diffs.Count - 1, 0.975) * Sd(diffs)!.Value / Math.Sqrt(diffs.Count);
                (lo, hi) = (d - half, d + half);
                basis = $"t-interval over {diffs.Count} seeds";
            }
            else
            {
                var b = PairedBootstrap.Compare(paired[0].Mine.WindowLosses, paired[0].Scratch.WindowLosses, seed: 1);
                (lo, hi) = (b.Lower, b.Upper);
                basis = $"paired bootstrap over {b.N} held-out windows (one seed: evaluation noise only)";
            }
            string verdict = hi <= margin ? "reaches" : lo > margin ? "falls short" : "undecided";
            list.Add(new CurriculumSummary(Name(f), f, mine[0].Flops, mine[0].Flops / scratchFlops, mine.Average(r => r.LongLoss), Sd(mine.Select(r => r.LongLoss).ToList()),
                mine.Average(r => r.ShortLoss), Mean(mine.Select(r => r.PasskeyLong)), d, lo, hi, basis, verdict, mine.Average(r => r.TrainSeconds)));
        }
        return list;
    }

    private static string Conclude(IReadOnlyList<CurriculumSummary> summary, IReadOnlyList<CurriculumRun> runs, CurriculumOptions o, double margin)
    {
        var ci = CultureInfo.InvariantCulture;
        var s0 = summary[0];
        var parts = new List<string>
        {
            string.Create(ci, $"From scratch at {o.LongLength} tokens: long-context loss {s0.LongLoss:F4}."),
        };
        foreach (var s in summary.Skip(1))
            parts.Add(string.Create(ci,
                $"{s.Variant} ({100 * (s.FlopsRatio):F0}% of its FLOPs, {100 * (1 - s.FlopsRatio):F0}% saved): {s.LongLoss:F4}, difference {s.Difference:+0.0000;-0.0000} [{s.Lower:+0.0000;-0.0000}, {s.Upper:+0.0000;-0.0000}] → {s.Verdict}."));
        var reaching = summary.Skip(1).Where(s => s.Verdict == "reaches" && s.FlopsRatio < 1).OrderBy(s => s.FlopsRatio).ToList();
        var undecided = summary.Skip(1).Where(s => s.Verdict == "undecided").ToList();
        string marginText = string.Create(ci, $"within {100 * (o.Margin):F0}% of the from-scratch loss ({margin:F4} nats)");
        if (reaching.Count > 0)
            parts.Add(string.Create(ci,
                $"Continual pretraining reaches from-scratch quality at less compute: **yes** — {reaching[0].Variant} is {marginText} at {100 * (1 - reaching[0].FlopsRatio):F0}% fewer FLOPs (the paper: about 40% saved with almost no loss)."));
        else if (undecided.Count > 0)
            parts.Add($"Continual pretraining reaches from-scratch quality at less compute: **undecided** — no curriculum is shown {marginText}, and the interval of {string.Join(", ", undecided.Select(u => u.Variant))} straddles the margin.");
        else
            parts.Add($"Continual pretraining reaches from-scratch quality at less compute: **no** — every curriculum's loss is beyond {marginText}.");
        var pk = runs.Where(r => r.PasskeyLong is not null).ToList();
        if (pk.Count == 0) parts.Add($"Passkey retrieval was not measured: its prompt does not fit {o.LongLength} tokens with this tokenizer.");
        else if (pk.All(r => r.PasskeyLong == 0 && (r.PasskeyShort ?? 0) == 0))
            parts.Add("Retrieval cannot separate the curricula: no model retrieves a passkey at either length (accuracy 0).");
        else
            parts.Add(string.Join(" ", summary.Select(s => string.Create(ci, $"{s.Variant} passkey at {o.LongLength}: {s.PasskeyLong:F2}."))));
        return string.Join(" ", parts);
    }

    private static bool Fits(Action a)
    {
        try { a(); return true; }
        catch (ArgumentException) { return false; }
    }
}
