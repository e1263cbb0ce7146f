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
/// The paper's positional-encoding ablation (Xiong et al. 2023, Table 5 / Figure 5b) in a miniature that keeps the
/// ratios that drive it: pretrain a small model at a short context L with a RoPE base scaled so its longest
/// wavelength is Llama 2's multiple of L (<see cref="ScaledRopeBase"/>) and with a share of synthetic retrieval
/// documents, so it retrieves within L; continue training copies at <see cref="RopeAblationOptions.ExtendFactor"/>·L
/// (the paper's 8×) with (a) RoPE unchanged, (b) Position Interpolation, (c) ABF (base ×50), (d) xPos with ABF, each
/// with several data-order seeds; then evaluate them and the unextended base on held-out documents: loss at each
/// multiple of L with the power-law fit, passkey and first-sentence retrieval. Writes report.md, results.json and PNGs.
/// </summary>
/// <remarks>
/// Every extension starts from the same base weights and uses the same tokens per step, steps and learning rate; the
/// seeds change only the order (and mixture draws) of the data; only the RoPE differs between variants. The
/// verdicts on the paper's claims are computed from the measured numbers and their spread over the seeds.
/// </remarks>
public static class RopeAblation
{
    public const string ReportFileName = "report.md";
    public const string ResultsFileName = "results.json";
    /// <summary>The normalised decay curves of the miniature beside Llama 2's on the relative axis.</summary>
    public const string DecayFileName = "rope-decay-relative.png";

    /// <summary>Relative distances (multiples of the trained length) at which the report tabulates the decay curves.</summary>
    public static IReadOnlyList<double> DecayPoints { get; } = [0.25, 0.5, 1, 2, 4, 8];

    /// <summary>Runs the whole experiment.</summary>
    /// <param name="log">Hears one line per phase and evaluation cell.</param>
    /// <param name="runTrainer">Trains a created trainer to its last step (the CLI passes its progress display); null calls <see cref="Trainer.Run"/>.</param>
    public static RopeAblationResult Run(RopeAblationOptions options, Action<string>? log = null, Action<Trainer>? runTrainer = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var total = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Log(string s) => log?.Invoke(s);
        var outDir = RopeAblation.FreshOutputDirectory(options.OutputDirectory);

        var watch = Stopwatch.StartNew();
        var extensions = options.Variants.Where(v => v != "base").ToList();
        int phaseCount = 3 + extensions.Count * options.Seeds, phase = 0;
        string Phase() => $"[{++phase}/{phaseCount}] phase: ";
        Log(Phase() + "data");
        var (prepared, tokenizerPath, valTexts, corpusName, trainTexts) = PrepareData(options, outDir, Log);
        var tokenizer = TokenizerLoader.Load(tokenizerPath);
        using var evalCorpus = options.EvalCorpusDirectory is { } ecDir ? EvalCorpus.Open(ecDir) : EvalCorpus.FromTexts(valTexts, "held-out documents");
        string evalSource = options.EvalCorpusDirectory is { } e ? Path.GetFullPath(e) : "held-out documents of the corpus (" + corpusName + ")";
        if (options.EvalCorpusDirectory is not null)
        {
            var trained = trainTexts.Select(t => t.Trim()).ToHashSet(StringComparer.Ordinal);
            for (int i = 0; i < evalCorpus.Count; i++)
                if (trained.Contains(evalCorpus.Text(i, tokenizer).Trim()))
                    throw new ArgumentException($"--eval-corpus {options.EvalCorpusDirectory}: document {i} is also a training document; held-out documents must not be trained on");
        }
        var evalDocs = evalCorpus.TokenDocuments(tokenizer);

        int T = options.SeqLen, TL = T * options.ExtendFactor;
        int batch = options.TokensPerStep / TL;
        var preset = ModelPresets.Create(options.Preset, tokenizer.Vocabulary.Count, T);
        if (options.Heads is { } heads) preset = preset with { NumHeads = heads, NumKvHeads = heads };
        var theta = DeriveTheta(options, preset.RotaryDim);
        ScaledRopeBase.WriteRelativeDecayPng(Path.Combine(outDir, DecayFileName),
        [
            ($"Llama 2: d 128, θ 10,000, L 4,096", ScaledRopeBase.ReferenceTheta, ScaledRopeBase.ReferenceHeadDim, ScaledRopeBase.ReferenceLength),
            (string.Create(CultureInfo.InvariantCulture, $"miniature: d {theta.HeadDim}, θ {theta.Theta:G4}, L {T}"), theta.Theta, theta.HeadDim, T),
            ($"miniature with θ 10,000 (unscaled)", 10_000, theta.HeadDim, T),
            ($"Llama 2 ABF: θ 500,000", ScaledRopeBase.ReferenceTheta * 50, ScaledRopeBase.ReferenceHeadDim, ScaledRopeBase.ReferenceLength),
            (string.Create(CultureInfo.InvariantCulture, $"miniature ABF: θ {theta.AbfTheta:G4}"), theta.AbfTheta, theta.HeadDim, T),
        ], options.ExtendFactor, "RoPE decay bound against distance relative to the trained length");
        var baseConfig = preset with { RopeTheta = (float)theta.Theta };

        RetrievalMixSummary? mix = null;
        string? retrievalBase = null, retrievalExtend = null;
        if (options.RetrievalMix > 0)
            (mix, retrievalBase, retrievalExtend) = PrepareRetrieval(options, trainTexts, tokenizerPath, tokenizer, outDir, T, TL, Log);
        phases["data"] = watch.Elapsed.TotalSeconds;
        Log(string.Create(CultureInfo.InvariantCulture,
            $"data ready: {evalDocs.Count} held-out documents ({evalDocs.Sum(d => (long)d.Length)} tokens) from {evalSource}, vocabulary {tokenizer.Vocabulary.Count}; RoPE θ {theta.Theta:G6} ({(theta.Derived ? "scaled" : "given")}), ABF θ {theta.AbfTheta:G6}"));

        TrainerOptions Train(int seqLen, int steps, float lr, string? retrieval, ulong seed) => new()
        {
            Sources = retrieval is null
                ? [new TrainingSource("data", prepared)]
                : [new TrainingSource("data", prepared, 1 - options.RetrievalMix), new TrainingSource("retrieval", retrieval, options.RetrievalMix, WholeDocuments: true, AnswersOnly: options.RetrievalAnswersOnly)],
            SeqLen = seqLen, TokensPerStep = options.TokensPerStep, BatchSize = batch,
            Steps = steps, LearningRate = lr, WarmupSteps = Math.Max(1, steps / 10), Seed = seed, ValidationWindows = 8,
            ShuffleChunkTokens = options.ShuffleChunkTokens,
        };
        var runner = runTrainer ?? (t => t.Run(cancellation));
        var models = new List<(string Name, string Description, LlamaModel Model, int Context, Trainer Summary, double Seconds, int SeedIndex)>();
        var trainers = new List<Trainer>();
        string thetaText = theta.Theta.ToString("G4", CultureInfo.InvariantCulture), abfText = theta.AbfTheta.ToString("G4", CultureInfo.InvariantCulture);
        try
        {
            watch.Restart();
            Log(Phase() + $"pretrain base at {T} tokens ({options.BaseSteps} steps × {options.TokensPerStep} tokens)");
            var baseTrainer = Trainer.Create(baseConfig, Train(T, options.BaseSteps, options.BaseLearningRate, retrievalBase, options.Seed), Path.Combine(outDir, "runs", "base"));
            trainers.Add(baseTrainer);
            runner(baseTrainer);
            cancellation.ThrowIfCancellationRequested();
            var baseModel = baseTrainer.Model.ToModel(baseTrainer.RunDirectory);
            phases["train base"] = watch.Elapsed.TotalSeconds;
            if (options.Variants.Contains("base"))
                models.Add(("base", $"pretrained at {T}, not extended (RoPE θ {thetaText})", baseModel, T, baseTrainer, phases["train base"], 0));

            for (int k = 0; k < options.Seeds; k++)
                foreach (var name in extensions)
                {
                    var (config, description) = name switch
                    {
                        "rope" => (baseConfig, $"RoPE unchanged (θ {thetaText})"),
                        "pi" => (baseConfig with { RopeScaling = new RopeScaling { Type = RopeTypes.Linear, Factor = options.ExtendFactor } }, $"Position Interpolation (linear, factor {options.ExtendFactor}, θ {thetaText})"),
                        "abf" => (baseConfig with { RopeTheta = (float)theta.AbfTheta }, $"RoPE ABF (θ {abfText} = {options.AbfFactor:G3} × {thetaText})"),
                        _ => (baseConfig with { RopeTheta = (float)theta.AbfTheta, RopeScaling = new RopeScaling { Type = RopeTypes.Xpos } }, $"xPos with ABF (θ {abfText}, scale base 512)"),
                    };
                    config = config with { MaxPositionEmbeddings = TL };
                    // Seed 0 keeps the base run's data seed (the earlier single-seed runs); the others differ in data order only.
                    ulong seed = options.Seed + (ulong)k * 1_000_003UL;
                    string label = k == 0 ? name : $"{name}-s{k}";
                    watch.Restart();
                    Log(Phase() + $"extend {name} to {TL} tokens, seed {k + 1}/{options.Seeds}: {description} ({options.ExtendSteps} steps)");
                    var trainer = Trainer.Create(config, Train(TL, options.ExtendSteps, options.ExtendLearningRate, retrievalExtend, seed), Path.Combine(outDir, "runs", label),
                        baseModel.Weights, baseTrainer.Model.Vocabulary);
                    trainers.Add(trainer);
                    runner(trainer);
                    cancellation.ThrowIfCancellationRequested();
                    phases[$"extend {label}"] = watch.Elapsed.TotalSeconds;
                    models.Add((name, "extended to " + TL + ": " + description, trainer.Model.ToModel(trainer.RunDirectory), TL, trainer, phases[$"extend {label}"], k));
                }

            var lengths = options.Multiples.Select(m => m * T).Distinct().Order().ToList();
            var lossDocs = SameTokensAtEveryLength(evalDocs, lengths[^1], options.LossWindows);
            if (lossDocs.Count == 0)
                throw new ArgumentException($"no held-out document has the {lengths[^1] + 1} tokens the longest evaluated length needs");
            int passkeyMin = lengths.FirstOrDefault(l => Fits(() => PasskeyEvaluation.FitPrompt(tokenizer, 12345, 0.5, l)), int.MaxValue);
            var passkeyLengths = lengths.Where(l => l >= passkeyMin).ToList();
            var passkeyDistances = passkeyLengths.SelectMany(l => options.PasskeyDepths.Select(d => new PasskeyDistance(l, d, PasskeyEvaluation.KeyDistance(tokenizer, 12345, d, l)))).ToList();
            // First-sentence needs room for the instruction plus some text to recall.
            int instruction = tokenizer.Encode(FirstSentenceEvaluation.Instruction, addBos: true, addEos: false).Length;
            var firstLengths = lengths.Where(l => l >= instruction + 16).ToList();
            var variants = new List<AblationVariant>();
            Log(Phase() + $"evaluate {models.Count} models at {string.Join(", ", lengths)} tokens");
            int index = 0;
            foreach (var (name, description, model, context, trainer, trainSeconds, seedIndex) in models)
            {
                cancellation.ThrowIfCancellationRequested();
                watch.Restart();
                index++;
                string file = seedIndex == 0 ? name : $"{name}-s{seedIndex}";
                void EvalLog(string s) => Log($"eval {file} ({index}/{models.Count}): {s}");
                var loss = LossCurveReport.Run(model, lossDocs, lengths, progress: EvalLog);
                EvalPlots.WriteLossCurve(Path.Combine(outDir, $"loss-{file}.png"), loss, $"{file}: loss against context");
                RetrievalReport? passkey = null, first = null;
                if (passkeyLengths.Count > 0)
                {
                    passkey = PasskeyEvaluation.Evaluate(model, tokenizer, new PasskeyOptions
                    {
                        Lengths = passkeyLengths, Depths = options.PasskeyDepths, Trials = options.PasskeyTrials, Seed = (int)(options.Seed % int.MaxValue),
                    }, EvalLog);
                    EvalPlots.WriteHeatmap(Path.Combine(outDir, $"passkey-{file}.png"), passkey, $"{file}: passkey accuracy");
                }
                if (firstLengths.Count > 0)
                try
                {
                    first = FirstSentenceEvaluation.Evaluate(model, tokenizer, evalCorpus, new FirstSentenceOptions
                    {
                        Lengths = firstLengths, Trials = options.FirstSentenceTrials, Seed = (int)(options.Seed % int.MaxValue),
                    }, EvalLog);
                }
                catch (ArgumentException ex)
                {
                    EvalLog($"first-sentence skipped: {ex.Message}");
                }
                // The wording-free copy test: random tokens, then the same again, so at every length the copy spans half the window.
                var repeated = RepeatedTokensEvaluation.Evaluate(model, tokenizer, new RepeatedTokensOptions
                {
                    Lengths = lengths, Trials = options.RepeatedTokensTrials, Seed = (int)(options.Seed % int.MaxValue),
                }, EvalLog);
                var metrics = LossCurvePlot.ReadMetrics(trainer.MetricsPath);
                var scores = lengths.Select(l => new AblationScore(l, (double)l / T, loss.Lengths.First(r => r.Length == l).MeanLoss,
                    passkey is null || !passkeyLengths.Contains(l) ? null : passkey.Cells.Where(c => c.Length == l).Average(c => c.Score),
                    first?.Cells.FirstOrDefault(c => c.Length == l)?.Score, PasskeyFirstDigitShare(passkey, l), repeated.ScoreAt(l, null))).ToList();
                double evalSeconds = watch.Elapsed.TotalSeconds;
                phases[$"eval {file}"] = evalSeconds;
                variants.Add(new AblationVariant(name, description, model.Config.RopeTheta, model.Config.RopeScaling?.ToString(), context,
                    metrics.Count == 0 ? 0 : metrics[^1].Step, metrics.LastOrDefault()?.Loss, metrics.LastOrDefault(m => m.ValidationLoss is not null)?.ValidationLoss,
                    trainSeconds, evalSeconds, scores, loss, passkey, first, Path.GetRelativePath(outDir, trainer.RunDirectory), seedIndex, repeated));
            }

            var summaries = Summarize(variants, T);
            var means = MeanVariants(variants);
            ComparisonPlots.Write(outDir, means, T);
            var ordering = Orderings(means, lengths.Where(l => l >= TL).ToList(), T);
            var collapse = Collapses(means);
            double copyChance = 1.0 / RepeatedTokensEvaluation.Pool(tokenizer.Vocabulary).Length;
            var claims = Claims(summaries, T, TL, copyChance);
            var conclusion = Conclude(ordering, claims, options.Seeds);
            var c = baseModel.Config;
            string summary = string.Create(CultureInfo.InvariantCulture,
                $"preset {options.Preset}: dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads} heads (head dim {c.HeadDim}), ffn {c.IntermediateSize}, vocab {c.VocabSize}; {ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding parameters");
            var result = new RopeAblationResult(options, corpusName, tokenizerPath, tokenizer.Vocabulary.Count, summary, lengths, variants, ordering, collapse, conclusion,
                phases, total.Elapsed.TotalSeconds, evalSource, theta, mix, summaries, claims, passkeyDistances, copyChance);
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

    /// <summary>The base θ (given, or scaled to Llama 2's ratios), ABF's, and the decay curves beside Llama 2's.</summary>
    internal static ThetaDerivation DeriveTheta(RopeAblationOptions o, int headDim)
    {
        int T = o.SeqLen, TL = T * o.ExtendFactor;
        double theta = o.RopeTheta ?? ScaledRopeBase.MatchLongestWavelength(headDim, T);
        double abf = theta * o.AbfFactor;
        double lambda = ScaledRopeBase.LongestWavelength(theta, headDim);
        double refLambda = ScaledRopeBase.LongestWavelength(ScaledRopeBase.ReferenceTheta, ScaledRopeBase.ReferenceHeadDim);
        var x = DecayPoints;
        return new ThetaDerivation(headDim, T, TL, theta, o.RopeTheta is null, abf, lambda, lambda / T, lambda / TL,
            refLambda / ScaledRopeBase.ReferenceLength, refLambda / (8.0 * ScaledRopeBase.ReferenceLength), x,
            ScaledRopeBase.RelativeDecay(ScaledRopeBase.ReferenceTheta, ScaledRopeBase.ReferenceHeadDim, ScaledRopeBase.ReferenceLength, x),
            ScaledRopeBase.RelativeDecay(theta, headDim, T, x),
            ScaledRopeBase.RelativeDecay(10_000, headDim, T, x),
            ScaledRopeBase.RelativeDecay(ScaledRopeBase.ReferenceTheta * 50, ScaledRopeBase.ReferenceHeadDim, ScaledRopeBase.ReferenceLength, x),
            ScaledRopeBase.RelativeDecay(abf, headDim, T, x));
    }

    /// <summary>
    /// Writes the two stages' retrieval documents (each up to its own sequence length, filler from the training
    /// texts only) and prepares each as a training source.
    /// </summary>
    private static (RetrievalMixSummary, string Base, string Extend) PrepareRetrieval(RopeAblationOptions o, IReadOnlyList<string> trainTexts, string tokenizerPath,
        ITokenizer tokenizer, string outDir, int T, int TL, Action<string> log)
    {
        // Up to 200,000 characters from the middle of each training text: sentences of every book, none held out.
        var sentences = trainTexts.SelectMany(t =>
        {
            int start = t.Length > 200_000 ? (t.Length - 200_000) / 2 : 0;
            return RetrievalDocuments.SentencesFrom(t.Substring(start, Math.Min(200_000, t.Length - start)));
        }).ToList();
        if (sentences.Count < 2) throw new ArgumentException("the training texts hold too few sentences (4–40 words ending in . ! or ?) for the retrieval documents' filler; use --retrieval-mix 0");
        var dir = Path.Combine(outDir, "data");
        (int Docs, long Tokens, string Prepared, Dictionary<string, int> Kinds, DistanceQuantiles? Passkeys) Stage(string name, int seqLen, int steps, ulong seed, bool logUniform, int minLength)
        {
            // Two tokens of each sequence length go to BOS and EOS, so a document and its question fit one window.
            // Both stages start at the base's shortest document (a quarter of T), so the extension keeps practising the
            // distances the base can already bridge while it meets the longer ones: with extension documents of
            // TL/4 … TL only, every extension forgot passkey retrieval even at 1× (docs/rope-ablation-retrieval).
            var settings = new RetrievalDocumentOptions { Seed = seed, MaxLength = seqLen - 2, MinLength = minLength, LogUniformLengths = logUniform };
            var gen = new RetrievalDocuments(sentences, o.RetrievalWeights is { } w ? settings.WithWeights(w) : settings, tokenizer);
            long want = (long)Math.Ceiling(steps * (double)o.TokensPerStep * o.RetrievalMix);
            int count = Math.Max(gen.CountFor(want), gen.CountFor(4L * seqLen));
            var prepared = Path.Combine(dir, $"retrieval-{name}");
            long tokens = ExperimentCorpus.WriteRetrievalSource(gen, count, prepared, tokenizerPath, tokenizer, seed);
            var docs = gen.Documents(0, count).Select(d => (d.Kind, d.Distance)).ToList();
            var kinds = docs.GroupBy(d => d.Kind.ToString()).ToDictionary(g => g.Key, g => g.Count());
            var passkeys = DistanceQuantiles.Of(docs.Where(d => d.Kind == RetrievalKind.Passkey).Select(d => d.Distance));
            log(string.Create(CultureInfo.InvariantCulture, $"retrieval documents for the {name} stage: {count} documents, {tokens} tokens, up to {seqLen - 2} tokens each ({string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value}"))}); passkey distances median {passkeys?.Median}, 90th percentile {passkeys?.P90}, max {passkeys?.Max}"));
            return (count, tokens, prepared, kinds, passkeys);
        }
        int quarter = Math.Max(1, (T - 2) / 4);
        var b = Stage("base", T, o.BaseSteps, o.Seed * 31 + 7, logUniform: false, o.BaseFullLengthRetrieval ? T - 2 : quarter);
        var x = Stage("extend", TL, o.ExtendSteps, o.Seed * 31 + 11, o.ExtendLogUniformLengths, quarter);
        return (new RetrievalMixSummary(o.RetrievalMix, sentences.Count, b.Docs, b.Tokens, T - 2, x.Docs, x.Tokens, TL - 2, b.Kinds, b.Passkeys, x.Passkeys), b.Prepared, x.Prepared);
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

    /// <summary>
    /// Creates the experiment's output folder and removes our own data/ and runs/ subfolders from an earlier run (a run
    /// folder with a checkpoint would refuse to start); returns its full path.
    /// </summary>
    internal static string FreshOutputDirectory(string directory)
    {
        var outDir = Path.GetFullPath(directory);
        Directory.CreateDirectory(outDir);
        foreach (var sub in new[] { "data", "runs" })
            if (Directory.Exists(Path.Combine(outDir, sub))) Directory.Delete(Path.Combine(outDir, sub), recursive: true);
        return outDir;
    }

    private static bool Fits(Action a)
    {
        try { a(); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>
    /// The experiments' data: <c>--corpus</c> books (or the built-in synthetic corpus) prepared into OUT/data/prepared
    /// with the held-out documents split off, the tokenizer (given, or learned from the training documents only), and
    /// the held-out and training texts. Shared with <see cref="CurriculumExperiment"/> and <see cref="InputLossExperiment"/>, which pass
    /// the corpus settings through a <see cref="RopeAblationOptions"/>.
    /// </summary>
    internal static (string Prepared, string Tokenizer, List<string> ValTexts, string Corpus, List<string> TrainTexts) PrepareData(RopeAblationOptions o, string outDir, Action<string> log)
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
            var trainTexts = files.Where(f => !val.Contains(Path.GetFileName(f))).Select(f => File.ReadAllText(f).Replace("\r\n", "\n")).ToList();
            return (prepared, Path.GetFullPath(tokenizerPath), texts, Path.GetFullPath(corpus), trainTexts);
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
        return (prepared, tokPath, valTexts, $"built-in synthetic corpus (seed {o.Seed})", train);
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

    /// <summary>
    /// A graded passkey score: the share of the key's digits that the answer's leading digits reproduce in place
    /// (non-digits dropped, so "12798." and "12 798" both count). Chance is about 0.1 per digit. Exact match hides a
    /// model that copies from the right place but blurs a digit or two, as a small model does at the edge of the
    /// distances it can bridge. The report gives it beside the accuracy (the paper's metric) and the first digit
    /// (<see cref="PasskeyFirstDigitShare"/>, which has its own verdict); no verdict reads this one.
    /// </summary>
    internal static double PasskeyDigitShare(string expected, string generated)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(generated);
        if (expected.Length == 0) throw new ArgumentException("the expected key is empty", nameof(expected));
        var digits = generated.Where(char.IsAsciiDigit).Take(expected.Length).ToArray();
        int same = 0;
        for (int i = 0; i < digits.Length; i++) if (digits[i] == expected[i]) same++;
        return (double)same / expected.Length;
    }

    /// <summary>Mean <see cref="PasskeyDigitShare(string, string)"/> over every depth and trial at <paramref name="length"/>; null when none ran there.</summary>
    internal static double? PasskeyDigitShare(RetrievalReport? passkey, int length) =>
        TrialsAt(passkey, length) is { } trials ? trials.Average(t => PasskeyDigitShare(t.Expected, t.Generated)) : null;

    /// <summary>Every passkey trial at <paramref name="length"/>, over its depths; null when none ran there.</summary>
    private static List<EvalTrial>? TrialsAt(RetrievalReport? passkey, int length) =>
        passkey?.Cells.Where(c => c.Length == length).SelectMany(c => c.Trials).ToList() is { Count: > 0 } trials ? trials : null;

    /// <summary>For each model, retrieval within its trained context against beyond it.</summary>
    internal static List<AblationCollapse> Collapses(IReadOnlyList<AblationVariant> variants)
    {
        var list = new List<AblationCollapse>();
        foreach (var v in variants)
            foreach (var (task, pick, floor) in new (string, Func<AblationScore, double?>, double)[]
                     {
                         ("passkey", s => s.Passkey, 0), ("first-sentence", s => s.FirstSentence, FirstSentenceChanceFloor),
                         ("repeated-token copy", s => s.RepeatedTokens, RepeatedTokensFloor),
                     })
            {
                var pts = v.Scores.Select(s => (s.Length, Score: pick(s))).Where(x => x.Score is not null).ToList();
                var within = pts.Where(x => x.Length <= v.TrainedContext).Select(x => x.Score!.Value).ToList();
                var beyond = pts.Where(x => x.Length > v.TrainedContext).Select(x => x.Score!.Value).ToList();
                double? w = within.Count > 0 ? within.Max() : null, b = beyond.Count > 0 ? beyond.Average() : null;
                bool? collapses = w is { } ww && ww > floor && b is { } bb ? bb <= 0.5 * ww : null;
                list.Add(new AblationCollapse(v.Name, task, w, b, collapses));
            }
        return list;
    }

    /// <summary>Each variant over its seeds: mean and spread of every score, β, and retrieval beyond the base context.</summary>
    internal static List<AblationSummary> Summarize(IReadOnlyList<AblationVariant> variants, int baseContext)
    {
        var list = new List<AblationSummary>();
        foreach (var g in variants.GroupBy(v => v.Name))
        {
            var runs = g.ToList();
            AblationStat? Stat(IEnumerable<double?> values) => values.Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList() is { Count: > 0 } l ? AblationStat.Of(l) : null;
            var scores = runs[0].Scores.Select(s0 =>
            {
                var at = runs.Select(r => r.Scores.First(s => s.Length == s0.Length)).ToList();
                return new AblationSummaryScore(s0.Length, s0.Multiple, AblationStat.Of(at.Select(s => s.Loss).ToList()), Stat(at.Select(s => s.Passkey)), Stat(at.Select(s => s.FirstSentence)),
                    Stat(at.Select(s => s.PasskeyFirstDigit)), Stat(at.Select(s => s.RepeatedTokens)));
            }).ToList();
            double? Beyond(AblationVariant r, Func<AblationScore, double?> pick) =>
                r.Scores.Where(s => s.Length > baseContext && pick(s) is not null).Select(s => pick(s)!.Value).ToList() is { Count: > 0 } l ? l.Average() : null;
            list.Add(new AblationSummary(g.Key, runs[0].Description, runs[0].RopeTheta, runs[0].TrainedContext, runs.Count, scores,
                Stat(runs.Select(r => r.Loss?.ByPosition.Fit?.Beta)), Stat(runs.Select(r => Beyond(r, s => s.Passkey))), Stat(runs.Select(r => Beyond(r, s => s.FirstSentence))),
                Stat(runs.Select(r => Beyond(r, s => s.PasskeyFirstDigit))), Stat(runs.Select(r => Beyond(r, s => s.RepeatedTokens)))));
        }
        return list;
    }

    /// <summary>One pseudo-variant per name whose scores are the means over its seeds (for the comparison charts and orderings).</summary>
    internal static List<AblationVariant> MeanVariants(IReadOnlyList<AblationVariant> variants) =>
        variants.GroupBy(v => v.Name).Select(g =>
        {
            var runs = g.ToList();
            if (runs.Count == 1) return runs[0];
            static double? Mean(IEnumerable<double?> xs) => xs.Where(x => x is not null).Select(x => x!.Value).ToList() is { Count: > 0 } l ? l.Average() : null;
            var scores = runs[0].Scores.Select(s0 =>
            {
                var at = runs.Select(r => r.Scores.First(s => s.Length == s0.Length)).ToList();
                return new AblationScore(s0.Length, s0.Multiple, at.Average(s => s.Loss), Mean(at.Select(s => s.Passkey)), Mean(at.Select(s => s.FirstSentence)),
                    Mean(at.Select(s => s.PasskeyFirstDigit)), Mean(at.Select(s => s.RepeatedTokens)));
            }).ToList();
            return runs[0] with { Scores = scores };
        }).ToList();

    /// <summary>The paper's answer in the passkey and first-sentence tasks is not chance: this is chance for the passkey (a 5-digit key).</summary>
    internal const double PasskeyChance = 1.0 / 90_000;

    /// <summary>
    /// Repeated-token copy accuracy below this is not a copy skill: chance is 1/253 with tok512, and 4 sequences of
    /// 127 scored tokens at 1× have a standard error of about 0.003 there, so 0.05 (one token in 20) is far outside noise.
    /// </summary>
    internal const double RepeatedTokensFloor = 0.05;

    /// <summary>Chance of a 5-digit key's first digit (1–9).</summary>
    internal const double PasskeyFirstDigitChance = 1.0 / 9;

    /// <summary>Share of the passkey answers at <paramref name="length"/> (every depth and trial) whose first digit is the key's; null when none ran there.</summary>
    internal static double? PasskeyFirstDigitShare(RetrievalReport? passkey, int length) =>
        TrialsAt(passkey, length) is { } trials ? trials.Average(t => t.Generated.FirstOrDefault(char.IsAsciiDigit) == t.Expected[0] ? 1.0 : 0.0) : null;

    /// <summary>
    /// The paper's claims judged with the spread over seeds: a difference "holds" only when the means differ by more
    /// than the sum of the two standard deviations, is a "tie within spread" when not, and "reversed" when it is
    /// resolved the other way. With one seed there is no spread and the verdict rests on the point values (it says so).
    /// </summary>
    /// <param name="repeatedTokensChance">Chance of the repeated-token copy test (1 / the pool of normal pieces); NaN leaves that claim out.</param>
    internal static List<AblationClaim> Claims(IReadOnlyList<AblationSummary> summaries, int baseContext, int extended, double repeatedTokensChance = double.NaN)
    {
        var ci = CultureInfo.InvariantCulture;
        var list = new List<AblationClaim>();
        AblationSummary? S(string n) => summaries.FirstOrDefault(s => s.Name == n);
        static double Sd(AblationStat s) => s.Spread ?? 0;
        string Cmp(AblationStat lower, AblationStat higher, bool orEqual)
        {
            double gap = higher.Mean - lower.Mean, tol = Sd(lower) + Sd(higher);
            if (gap > tol) return "holds";
            if (-gap > tol) return "reversed";
            return orEqual ? "tie within spread (consistent with ≤)" : "tie within spread (not resolved)";
        }
        string Seeds(AblationStat s) => s.N < 2 ? " (one seed: no spread)" : "";
        AblationStat? LossAt(string n, int len) => S(n)?.Scores.FirstOrDefault(x => x.Length == len)?.Loss;

        var abf = LossAt("abf", extended);
        var pi = LossAt("pi", extended);
        var rope = LossAt("rope", extended);
        string at = string.Create(ci, $"at the extended length ({extended} tokens)");
        if (abf is not null && pi is not null)
            list.Add(new AblationClaim($"ABF ≤ PI in long-context loss {at}", Cmp(abf, pi, true),
                $"abf {abf.Format("F4")}, pi {pi.Format("F4")} nats/token{Seeds(abf)}"));
        else list.Add(new AblationClaim($"ABF ≤ PI in long-context loss {at}", "not testable", "abf and pi were not both run"));
        if (pi is not null && rope is not null)
            list.Add(new AblationClaim($"PI < RoPE (unchanged) in long-context loss {at}", Cmp(pi, rope, false),
                $"pi {pi.Format("F4")}, rope {rope.Format("F4")} nats/token{Seeds(pi)}"));
        else list.Add(new AblationClaim($"PI < RoPE (unchanged) in long-context loss {at}", "not testable", "pi and rope were not both run"));

        // The first digit is a graded reading of the same passkey probes: whether the answer starts from the key at all,
        // which a model that finds the needle but blurs the digits still does. Exact match stays the paper's measure.
        // The repeated-token copy is the same question without any prompt wording: can the model copy from half its window back?
        foreach (var (task, pick, pickAt1, chance) in new (string, Func<AblationSummary, AblationStat?>, Func<AblationSummaryScore, AblationStat?>, double)[]
                 {
                     ("passkey", s => s.PasskeyBeyondBase, x => x.Passkey, PasskeyChance),
                     ("first-sentence", s => s.FirstSentenceBeyondBase, x => x.FirstSentence, FirstSentenceChanceFloor),
                     ("passkey first-digit", s => s.PasskeyFirstDigitBeyondBase, x => x.PasskeyFirstDigit, PasskeyFirstDigitChance),
                     ("repeated-token copy", s => s.RepeatedTokensBeyondBase, x => x.RepeatedTokens, Math.Max(repeatedTokensChance, RepeatedTokensFloor)),
                 })
        {
            if (double.IsNaN(chance)) continue;
            string claim = $"RoPE's {task} retrieval collapses past the base's trained length ({baseContext}) while ABF's holds";
            var r = S("rope") is { } rs ? pick(rs) : null;
            var a = S("abf") is { } abs ? pick(abs) : null;
            var baseAt1 = S("base")?.Scores.FirstOrDefault(x => x.Length == baseContext) is { } b1 ? pickAt1(b1) : null;
            if (r is null || a is null) { list.Add(new AblationClaim(claim, "not testable", $"rope and abf were not both evaluated at {task} beyond {baseContext} tokens")); continue; }
            if (baseAt1 is null)
            {
                list.Add(new AblationClaim(claim, "not testable", $"the base model's {task} retrieval at 1× was not measured (not run, or the prompt does not fit {baseContext} tokens)"));
                continue;
            }
            string baseText = $"base at 1×: {baseAt1.Format("F2")}";
            if (baseAt1.Mean <= chance)
            {
                list.Add(new AblationClaim(claim, "not testable", $"the base does not retrieve within its trained length ({baseText}, at or below chance or its floor {chance.ToString("G3", ci)}): there is no skill to keep"));
                continue;
            }
            // RoPE "collapses" when its score beyond the base length is at or below chance, or half the base's at 1×;
            // ABF "holds" when its score is above RoPE's by more than the spread.
            double collapseLine = Math.Max(chance, 0.5 * baseAt1.Mean);
            bool ropeCollapses = r.Mean + Sd(r) <= collapseLine || r.Mean <= chance;
            string abfVsRope = Cmp(r, a, false);
            string verdict = ropeCollapses && abfVsRope == "holds" ? "holds" : !ropeCollapses && abfVsRope != "holds" ? "does not hold" : "partly: " + (ropeCollapses ? "RoPE collapses but ABF is not better beyond the spread" : "ABF is better but RoPE does not collapse");
            list.Add(new AblationClaim(claim, verdict, string.Create(ci,
                $"mean over {string.Join("/", S("rope")!.Scores.Where(x => x.Length > baseContext).Select(x => $"{x.Multiple:0.#}×"))}: rope {r.Format("F2")}, abf {a.Format("F2")}; {baseText}; collapse line {collapseLine:F2}{Seeds(r)}")));
        }

        // β only for models trained at the longest evaluated length: a model scored past its trained context has a
        // rising loss curve, and a fit to it (the base's) is not a scaling exponent.
        foreach (var s in summaries.Where(s => s.Beta is not null && s.TrainedContext >= extended))
        {
            var beta = s.Beta!;
            double lo = beta.Mean - Sd(beta), hi = beta.Mean + Sd(beta);
            string v = hi < 0.45 ? "below the paper's range" : lo > 0.51 ? "above the paper's range" : "overlaps the paper's range";
            list.Add(new AblationClaim($"power-law β of {s.Name} against the paper's 0.45–0.51", v, $"β {beta.Format("F3")}{Seeds(beta)}"));
        }
        return list;
    }

    private static string Conclude(IReadOnlyList<AblationOrdering> ordering, IReadOnlyList<AblationClaim> claims, int seeds)
    {
        var parts = new List<string>();
        parts.Add(string.Join(" ", claims.Where(c => !c.Claim.StartsWith("power-law", StringComparison.Ordinal))
            .Select(c => $"{c.Claim}: **{c.Verdict}** ({c.Evidence}).")));
        if (seeds < 2) parts.Add("One extension seed only: the verdicts have no spread to test against.");
        // The point orderings (seed means) at and beyond the extended length, as the earlier single-seed reports gave them.
        parts.AddRange(ordering.Where(o => o.MatchesPaper is not null).Select(o => string.Create(CultureInfo.InvariantCulture,
            $"Mean ordering at {o.Multiple:0.#}× ({o.Length} tokens): {o.Ordering}.")));
        return string.Join(" ", parts);
    }
}
