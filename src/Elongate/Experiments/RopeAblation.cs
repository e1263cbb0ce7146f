using System.Diagnostics;
using System.Globalization;
using Elongate.Data;
using Elongate.Evaluation;
using Elongate.Model;
using Elongate.Rope;
using Elongate.Tokenization;
using Elongate.Training;
using Elongate.Formats;

namespace Elongate.Experiments;

/// <summary>
/// The paper's positional-encoding ablation (Xiong et al. 2023, Table 5 / Figure 5b) in miniature: pretrain a small
/// model at a short context, continue training copies at <see cref="RopeAblationOptions.ExtendFactor"/>× that length
/// on the same tokens with (a) RoPE unchanged, (b) Position Interpolation, (c) ABF (base 500,000), (d) xPos with ABF,
/// then evaluate them and the unextended base on held-out documents: loss at each multiple of the base context with
/// the power-law fit, passkey and first-sentence retrieval. Writes report.md, results.json and PNGs.
/// </summary>
/// <remarks>
/// Every extension starts from the same base weights, uses the same seed (so the same data order and the same
/// tokens), the same tokens per step, steps and learning rate; only the RoPE differs. The verdict on the paper's
/// ordering is computed from the measured losses, never assumed.
/// </remarks>
public static class RopeAblation
{
    public const string ReportFileName = "report.md";
    public const string ResultsFileName = "results.json";

    /// <summary>Runs the whole experiment.</summary>
    /// <param name="log">Hears one line per phase and evaluation cell.</param>
    /// <param name="runTrainer">Trains a created trainer to its last step (the CLI passes its progress display); null calls <see cref="Trainer.Run"/>.</param>
    public static RopeAblationResult Run(RopeAblationOptions options, Action<string>? log = null, Action<Trainer>? runTrainer = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var total = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Log(string s) => log?.Invoke(s);
        var outDir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        // Our own subfolders from an earlier run are replaced: a run folder with a checkpoint would refuse to start.
        foreach (var sub in new[] { "data", "runs" })
            if (Directory.Exists(Path.Combine(outDir, sub))) Directory.Delete(Path.Combine(outDir, sub), recursive: true);

        var watch = Stopwatch.StartNew();
        int phaseCount = 3 + options.Variants.Count(v => v != "base"), phase = 0;
        string Phase() => $"[{++phase}/{phaseCount}] phase: ";
        Log(Phase() + "data");
        var (prepared, tokenizerPath, valTexts, corpusName) = PrepareData(options, outDir, Log);
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        using var evalCorpus = EvalCorpus.FromTexts(valTexts, "held-out documents");
        var evalDocs = evalCorpus.TokenDocuments(tokenizer);
        phases["data"] = watch.Elapsed.TotalSeconds;
        Log(string.Create(CultureInfo.InvariantCulture, $"data ready: {evalDocs.Count} held-out documents ({evalDocs.Sum(d => (long)d.Length)} tokens), vocabulary {tokenizer.Vocabulary.Count}"));

        int T = options.SeqLen, TL = T * options.ExtendFactor;
        int batch = options.TokensPerStep / TL;
        var baseConfig = ModelPresets.Create(options.Preset, tokenizer.Vocabulary.Count, T) with { RopeTheta = 10_000f };
        TrainerOptions Train(int seqLen, int steps, float lr) => new()
        {
            Sources = [new TrainingSource("data", prepared)], SeqLen = seqLen, TokensPerStep = options.TokensPerStep, BatchSize = batch,
            Steps = steps, LearningRate = lr, WarmupSteps = Math.Max(1, steps / 10), Seed = options.Seed, ValidationWindows = 8,
            ShuffleChunkTokens = options.ShuffleChunkTokens,
        };
        var runner = runTrainer ?? (t => t.Run(cancellation));
        var models = new List<(string Name, string Description, LlamaModel Model, int Context, Trainer Summary, double Seconds)>();
        var trainers = new List<Trainer>();
        try
        {
            watch.Restart();
            Log(Phase() + $"pretrain base at {T} tokens ({options.BaseSteps} steps × {options.TokensPerStep} tokens)");
            var baseTrainer = Trainer.Create(baseConfig, Train(T, options.BaseSteps, options.BaseLearningRate), Path.Combine(outDir, "runs", "base"));
            trainers.Add(baseTrainer);
            runner(baseTrainer);
            cancellation.ThrowIfCancellationRequested();
            var baseModel = baseTrainer.Model.ToModel(baseTrainer.RunDirectory);
            phases["train base"] = watch.Elapsed.TotalSeconds;
            if (options.Variants.Contains("base"))
                models.Add(("base", $"pretrained at {T}, not extended (RoPE θ 10,000)", baseModel, T, baseTrainer, phases["train base"]));

            foreach (var name in options.Variants.Where(v => v != "base"))
            {
                var (config, description) = name switch
                {
                    "rope" => (baseConfig, "RoPE unchanged (θ 10,000)"),
                    "pi" => (baseConfig with { RopeScaling = new RopeScaling { Type = RopeTypes.Linear, Factor = options.ExtendFactor } }, $"Position Interpolation (linear, factor {options.ExtendFactor})"),
                    "abf" => (baseConfig with { RopeTheta = 500_000f }, "RoPE ABF (θ 500,000)"),
                    _ => (baseConfig with { RopeTheta = 500_000f, RopeScaling = new RopeScaling { Type = RopeTypes.Xpos } }, "xPos with ABF (θ 500,000, scale base 512)"),
                };
                config = config with { MaxPositionEmbeddings = TL };
                watch.Restart();
                Log(Phase() + $"extend {name} to {TL} tokens: {description} ({options.ExtendSteps} steps)");
                var trainer = Trainer.Create(config, Train(TL, options.ExtendSteps, options.ExtendLearningRate), Path.Combine(outDir, "runs", name),
                    baseModel.Weights, baseTrainer.Model.Vocabulary);
                trainers.Add(trainer);
                runner(trainer);
                cancellation.ThrowIfCancellationRequested();
                phases[$"extend {name}"] = watch.Elapsed.TotalSeconds;
                models.Add((name, "extended to " + TL + ": " + description, trainer.Model.ToModel(trainer.RunDirectory), TL, trainer, phases[$"extend {name}"]));
            }

            var lengths = options.Multiples.Select(m => m * T).Distinct().Order().ToList();
            var lossDocs = SameTokensAtEveryLength(evalDocs, lengths[^1], options.LossWindows);
            if (lossDocs.Count == 0)
                throw new ArgumentException($"no held-out document has the {lengths[^1] + 1} tokens the longest evaluated length needs");
            int passkeyMin = lengths.FirstOrDefault(l => Fits(() => PasskeyEvaluation.FitPrompt(tokenizer, 12345, 0.5, l)), int.MaxValue);
            var passkeyLengths = lengths.Where(l => l >= passkeyMin).ToList();
            // First-sentence needs room for the instruction plus some text to recall.
            int instruction = tokenizer.Encode(FirstSentenceEvaluation.Instruction, addBos: true, addEos: false).Length;
            var firstLengths = lengths.Where(l => l >= instruction + 16).ToList();
            var variants = new List<AblationVariant>();
            Log(Phase() + $"evaluate {models.Count} models at {string.Join(", ", lengths)} tokens");
            int index = 0;
            foreach (var (name, description, model, context, trainer, trainSeconds) in models)
            {
                cancellation.ThrowIfCancellationRequested();
                watch.Restart();
                index++;
                void EvalLog(string s) => Log($"eval {name} ({index}/{models.Count}): {s}");
                var loss = LossCurveReport.Run(model, lossDocs, lengths, progress: EvalLog);
                EvalPlots.WriteLossCurve(Path.Combine(outDir, $"loss-{name}.png"), loss, $"{name}: loss against context");
                RetrievalReport? passkey = null, first = null;
                if (passkeyLengths.Count > 0)
                {
                    passkey = PasskeyEvaluation.Evaluate(model, tokenizer, new PasskeyOptions
                    {
                        Lengths = passkeyLengths, Depths = options.PasskeyDepths, Trials = options.PasskeyTrials, Seed = (int)(options.Seed % int.MaxValue),
                    }, EvalLog);
                    EvalPlots.WriteHeatmap(Path.Combine(outDir, $"passkey-{name}.png"), passkey, $"{name}: passkey accuracy");
                }
                if (firstLengths.Count > 0)
                try
                {
                    first = FirstSentenceEvaluation.Evaluate(model, tokenizer, evalCorpus, new FirstSentenceOptions
                    {
                        Lengths = firstLengths, Trials = options.FirstSentenceTrials, Seed = (int)(options.Seed % int.MaxValue),
                    }, EvalLog);
                }
                catch (ArgumentException e)
                {
                    EvalLog($"first-sentence skipped: {e.Message}");
                }
                var metrics = LossCurvePlot.ReadMetrics(trainer.MetricsPath);
                var scores = lengths.Select(l => new AblationScore(l, (double)l / T, loss.Lengths.First(r => r.Length == l).MeanLoss,
                    passkey is null || !passkeyLengths.Contains(l) ? null : passkey.Cells.Where(c => c.Length == l).Average(c => c.Score),
                    first?.Cells.FirstOrDefault(c => c.Length == l)?.Score)).ToList();
                double evalSeconds = watch.Elapsed.TotalSeconds;
                phases[$"eval {name}"] = evalSeconds;
                variants.Add(new AblationVariant(name, description, model.Config.RopeTheta, model.Config.RopeScaling?.ToString(), context,
                    metrics.Count == 0 ? 0 : metrics[^1].Step, metrics.LastOrDefault()?.Loss, metrics.LastOrDefault(m => m.ValidationLoss is not null)?.ValidationLoss,
                    trainSeconds, evalSeconds, scores, loss, passkey, first, Path.GetRelativePath(outDir, trainer.RunDirectory)));
            }

            ComparisonPlots.Write(outDir, variants, T);
            var ordering = Orderings(variants, lengths.Where(l => l >= TL).ToList(), T);
            var collapse = Collapses(variants);
            var conclusion = Conclude(ordering, collapse);
            var c = baseModel.Config;
            string summary = string.Create(CultureInfo.InvariantCulture,
                $"preset {options.Preset}: dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads} heads, ffn {c.IntermediateSize}, vocab {c.VocabSize}; {ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding parameters");
            var result = new RopeAblationResult(options, corpusName, tokenizerPath, tokenizer.Vocabulary.Count, summary, lengths, variants, ordering, collapse, conclusion,
                phases, total.Elapsed.TotalSeconds);
            EvalJson.Write(Path.Combine(outDir, ResultsFileName), result);
            RopeAblationReport.Write(Path.Combine(outDir, ReportFileName), result);
            Log(conclusion);
            return result;
        }
        finally
        {
            foreach (var t in trainers) t.Dispose();
        }
    }

    /// <summary>
    /// The held-out documents cut to whole multiples of the longest length (plus the one token a window shares with
    /// the next), up to <paramref name="maxWindows"/> windows of that length in all (0 = all): non-overlapping
    /// windows of every shorter length that divides it then tile exactly the same targets, so losses at different
    /// lengths differ only by the context each token had, never by which text was scored.
    /// </summary>
    internal static List<int[]> SameTokensAtEveryLength(IReadOnlyList<int[]> documents, int longest, int maxWindows)
    {
        var list = new List<int[]>();
        int left = maxWindows > 0 ? maxWindows : int.MaxValue;
        foreach (var d in documents)
        {
            int k = Math.Min((d.Length - 1) / longest, left);
            if (k <= 0) continue;
            list.Add(d[..(k * longest + 1)]);
            left -= k;
            if (left == 0) break;
        }
        return list;
    }

    private static bool Fits(Action a)
    {
        try { a(); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>
    /// The experiments' data: <c>--corpus</c> books (or the built-in synthetic corpus) prepared into OUT/data/prepared
    /// with the held-out documents split off, the tokenizer (given, or learned from the training documents only), and
    /// the held-out texts. Shared with <see cref="CurriculumExperiment"/> and <see cref="InputLossExperiment"/>, which pass
    /// the corpus settings through a <see cref="RopeAblationOptions"/>.
    /// </summary>
    internal static (string Prepared, string Tokenizer, List<string> ValTexts, string Corpus) PrepareData(RopeAblationOptions o, string outDir, Action<string> log)
    {
        var dataDir = Path.Combine(outDir, "data");
        var prepared = Path.Combine(dataDir, "prepared");
        if (o.CorpusDirectory is { } corpus)
        {
            var files = Directory.GetFiles(corpus, "*.txt").Order(StringComparer.Ordinal).ToArray();
            if (files.Length < 2) throw new ArgumentException($"--corpus {corpus} needs at least two .txt files (training and held-out)");
            var val = o.ValidationDocuments?.ToArray() ?? files.TakeLast(Math.Min(o.ValidationCount, files.Length - 1)).Select(f => Path.GetFileName(f)!).ToArray();
            foreach (var v in val)
                if (!File.Exists(Path.Combine(corpus, v))) throw new ArgumentException($"--val-docs {v} is not a .txt file in {corpus}");
            log($"corpus {corpus}: {files.Length} books, held out: {string.Join(", ", val)}");
            var tokenizerPath = o.TokenizerPath;
            if (tokenizerPath is null)
            {
                Directory.CreateDirectory(dataDir);
                tokenizerPath = Path.Combine(dataDir, "tokenizer.bin");
                log($"learning a {o.VocabSize}-piece byte-fallback BPE tokenizer from the training books");
                CorpusPreparer.LearnTokenizer(files, val, o.VocabSize, tokenizerPath);
            }
            CorpusPreparer.Prepare(new CorpusPrepareOptions { TokenizerPath = tokenizerPath, Inputs = files, OutputDirectory = prepared, ValidationDocuments = val });
            var texts = val.Select(v => File.ReadAllText(Path.Combine(corpus, v)).Replace("\r\n", "\n")).ToList();
            return (prepared, Path.GetFullPath(tokenizerPath), texts, Path.GetFullPath(corpus));
        }
        var synthetic = new SyntheticCorpus(o.Seed);
        var raw = Path.Combine(dataDir, "synthetic");
        Directory.CreateDirectory(raw);
        var train = Enumerable.Range(0, o.SyntheticTrainDocuments).Select(i => synthetic.Document(i, o.SyntheticWords)).ToList();
        var valTexts = Enumerable.Range(o.SyntheticTrainDocuments, o.SyntheticValidationDocuments).Select(i => synthetic.Document(i, o.SyntheticWords)).ToList();
        var inputs = new List<string>();
        for (int i = 0; i < train.Count; i++) { var p = Path.Combine(raw, $"train-{i:D5}.txt"); File.WriteAllText(p, train[i]); inputs.Add(p); }
        var valNames = new List<string>();
        for (int i = 0; i < valTexts.Count; i++) { var n = $"val-{i:D5}.txt"; File.WriteAllText(Path.Combine(raw, n), valTexts[i]); inputs.Add(Path.Combine(raw, n)); valNames.Add(n); }
        log($"synthetic corpus: {train.Count} training + {valTexts.Count} held-out documents of about {o.SyntheticWords} words; learning a {o.VocabSize}-piece byte-fallback BPE tokenizer");
        var vocab = BpeTrainer.Train(train.Take(Math.Min(train.Count, 16)), o.VocabSize);
        var tokPath = Path.Combine(dataDir, "tokenizer.bin");
        BpeTrainer.WriteLlama2cBin(vocab, tokPath);
        CorpusPreparer.Prepare(new CorpusPrepareOptions { TokenizerPath = tokPath, Inputs = inputs, OutputDirectory = prepared, ValidationDocuments = valNames });
        return (prepared, tokPath, valTexts, $"built-in synthetic corpus (seed {o.Seed})");
    }

    /// <summary>Orders the variants by loss at each length and checks the paper's ABF ≤ PI &lt; RoPE.</summary>
    internal static List<AblationOrdering> Orderings(IReadOnlyList<AblationVariant> variants, IReadOnlyList<int> lengths, int baseContext)
    {
        var list = new List<AblationOrdering>();
        foreach (int l in lengths)
        {
            var at = variants.Select(v => (v.Name, Loss: v.Scores.First(s => s.Length == l).Loss)).OrderBy(x => x.Loss).ToList();
            string text = string.Join(" < ", at.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Name} ({x.Loss:F4})")));
            double? Loss(string n) => at.Where(x => x.Name == n).Select(x => (double?)x.Loss).FirstOrDefault();
            bool? abfPi = Loss("abf") is { } abf && Loss("pi") is { } pi ? abf <= pi : null;
            bool? piRope = Loss("pi") is { } pi2 && Loss("rope") is { } rope ? pi2 < rope : null;
            bool? matches = abfPi is { } x && piRope is { } y ? x && y : null;
            list.Add(new AblationOrdering(l, (double)l / baseContext, text, matches, abfPi, piRope));
        }
        return list;
    }

    /// <summary>
    /// Within-trained first-sentence ROUGE-L below this is chance, not retrieval, so its fall past the trained length is
    /// not judged: two sentences drawn at random from the held-out books (ulysses, war_and_peace; 400 pairs each) score
    /// 0.06–0.08 on average and 0.14–0.15 at the 90th percentile. 0.3 is about twice that.
    /// </summary>
    internal const double FirstSentenceChanceFloor = 0.3;

    /// <summary>For each model, retrieval within its trained context against beyond it.</summary>
    internal static List<AblationCollapse> Collapses(IReadOnlyList<AblationVariant> variants)
    {
        var list = new List<AblationCollapse>();
        foreach (var v in variants)
            foreach (var task in new[] { "passkey", "first-sentence" })
            {
                var pts = v.Scores.Select(s => (s.Length, Score: task == "passkey" ? s.Passkey : s.FirstSentence)).Where(x => x.Score is not null).ToList();
                var within = pts.Where(x => x.Length <= v.TrainedContext).Select(x => x.Score!.Value).ToList();
                var beyond = pts.Where(x => x.Length > v.TrainedContext).Select(x => x.Score!.Value).ToList();
                double? w = within.Count > 0 ? within.Max() : null, b = beyond.Count > 0 ? beyond.Average() : null;
                double floor = task == "passkey" ? 0 : FirstSentenceChanceFloor;
                bool? collapses = w is { } ww && ww > floor && b is { } bb ? bb <= 0.5 * ww : null;
                list.Add(new AblationCollapse(v.Name, task, w, b, collapses));
            }
        return list;
    }

    private static string Conclude(IReadOnlyList<AblationOrdering> ordering, IReadOnlyList<AblationCollapse> collapse)
    {
        var parts = new List<string>();
        var decided = ordering.Where(o => o.MatchesPaper is not null).ToList();
        if (decided.Count == 0) parts.Add("The paper's loss ordering (ABF ≤ PI < RoPE) was not tested: rope, pi and abf were not all run.");
        else
            parts.Add(string.Join(" ", decided.Select(o => string.Create(CultureInfo.InvariantCulture,
                $"At {o.Multiple:0.#}× ({o.Length} tokens) the measured ordering is {o.Ordering}: {(o.MatchesPaper!.Value ? "matches" : "does not match")} the paper's ABF ≤ PI < RoPE (ABF ≤ PI: {(o.AbfAtMostPi!.Value ? "yes" : "no")}; PI < RoPE: {(o.PiBelowRope!.Value ? "yes" : "no")})."))));
        var rope = collapse.Where(c => c.Variant is "rope" or "base" && c.Collapses is not null).ToList();
        if (rope.Count == 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture,
                $"Retrieval collapse of plain RoPE past its trained length could not be judged: no retrieval within the trained length to lose (passkey 0, first-sentence ROUGE-L at most {FirstSentenceChanceFloor}, the level chance word overlap reaches)."));
        else
            parts.Add(string.Join(" ", rope.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"{c.Variant} {c.Task}: {c.WithinTrained:F2} within its trained length, {c.BeyondTrained:F2} beyond it ({(c.Collapses!.Value ? "collapses" : "does not collapse")})."))));
        return string.Join(" ", parts);
    }
}
