using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Elongate.Common;
using Elongate.Data;
using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;

namespace Elongate.Experiments;

/// <summary>
/// The paper's instruction-tuning loss ablation (Xiong et al. 2023, §4.3, Table 9) in miniature: a small model
/// pretrained at a short length and extended 8× with ABF (or a given one) is instruction-tuned twice on the same
/// self-instruct long QA — loss on the answers only, and loss on the answers and the input (system and user text) —
/// and both are asked held-out long-QA questions through the long-task harness (<see cref="TaskEvaluation"/>); the
/// report gives each model's score with a 95% bootstrap interval and the paired-bootstrap difference, and computes
/// whether loss on the input helped.
/// </summary>
/// <remarks>
/// <para>The QA: documents cut from the corpus's sentences with one planted fact each (<see cref="PasswordFacts"/>);
/// self-instruct (<see cref="SelfInstructor"/>) with the miniature's rule-based teacher (<see cref="PasswordTeacher"/>,
/// answering with the fact restated, the form a small model can learn by copying) writes the training pairs from the
/// training documents; the held-out questions come from documents whose sentences were never trained on, with keys
/// never used in training. The harness asks each question in the chat template with the tuning data's user turn
/// (document, blank line, question) and scores by SQuAD token F1 against the value (a token-level match: a reply
/// "… the sunge is bok" does not score for "sun", as a substring match would); beside it, the value the reply names
/// (the word after "is") is compared with the answer, and a guess among the sixteen values is right 1 time in 16.</para>
/// <para>Both tunings start from the same weights with the same data, sequences, order, steps and learning rate;
/// only which tokens carry loss differs.</para>
/// </remarks>
public static partial class InputLossExperiment
{
    public const string ReportFileName = "report.md";
    public const string ResultsFileName = "results.json";

    /// <summary>The held-out task's name (its file password_qa.jsonl and its prompt template password_qa.txt).</summary>
    public const string TaskName = "password_qa";

    /// <summary>The chance a uniform guess among the values is right.</summary>
    public static double Chance => 1.0 / PasswordFacts.Values.Length;

    /// <summary>
    /// The harness prompt: exactly the self-instruct user turn the models were tuned on (document, a blank line, the
    /// question), sent through the chat template; the answer ends at the first line break and may take
    /// <paramref name="maxNewTokens"/> tokens (<see cref="AnswerBudget"/>: the longest restated fact must fit).
    /// </summary>
    public static string PromptTemplate(int maxNewTokens) => $$"""
        # The self-instruct user turn the models were tuned on: the document, a blank line, the question.
        [settings]
        max_new_tokens = {{maxNewTokens}}
        stop = \n
        stop = <|im_end|>
        [example]
        {document}

        {question}
        {answer}

        [prompt]
        {examples}{document}

        {question}
        """;

    /// <summary>
    /// Tokens a reply may take: the longest fact the tuned models restate ("The password of the ADJ NOUN is VALUE.")
    /// in this tokenizer, plus the template's longest end-of-turn marker (a vocabulary without it as a special token
    /// spells "&lt;|im_end|&gt;" in several pieces, and a reply cut inside it keeps the pieces as words), plus 4. A fixed 24
    /// cut the restated fact before its value with a 512-piece SentencePiece vocabulary, where the fact takes up to 27.
    /// </summary>
    public static int AnswerBudget(ITokenizer tokenizer, ChatTemplate template)
    {
        int longest = 0;
        foreach (var adjective in PasswordFacts.Adjectives)
            foreach (var noun in PasswordFacts.Nouns)
                foreach (var value in PasswordFacts.Values)
                    longest = Math.Max(longest, tokenizer.Encode(PasswordTeacher.Fact(adjective + " " + noun, value), addBos: false, addEos: false).Length);
        int marker = template.EndOfTurnMarkers.Select(m => tokenizer.Encode(m, addBos: false, addEos: false).Length).DefaultIfEmpty(0).Max();
        return longest + marker + 4;
    }

    /// <summary>
    /// The longest QA document that fits the evaluation prompt uncut: the long length less the answer budget and the
    /// prompt around the document — the larger of the chat markup as this tokenizer spells it and the harness's own
    /// allowance for it (<see cref="TaskPromptBuilder.ChatReserve"/>, it cannot measure a template), plus the blank line,
    /// the longest question and BOS — so the harness never truncates a document and never cuts its fact out.
    /// </summary>
    public static int LongestDocument(InputLossOptions o, ITokenizer tokenizer, ChatTemplate template, int answerBudget)
    {
        int around = 0;
        foreach (var adjective in PasswordFacts.Adjectives)
            foreach (var noun in PasswordFacts.Nouns)
            {
                string tail = "\n\n" + PasswordTeacher.Question(adjective + " " + noun);
                int measured = PromptEncoding.EncodeChat(tokenizer, template, [new ChatTurn("user", tail)]).Length;
                int allowed = 1 + TaskPromptBuilder.ChatReserve + tokenizer.Encode(tail, addBos: false, addEos: false).Length;
                around = Math.Max(around, Math.Max(measured, allowed));
            }
        // 2 more for the seam where the document meets the blank line.
        return Math.Min(o.DocumentTokens.Max, o.LongLength - answerBudget - around - 2);
    }

    /// <summary>Runs the whole experiment.</summary>
    /// <param name="log">Hears one line per phase and step of the evaluation.</param>
    /// <param name="runLoop">Runs a training loop to its end through the given action (the CLI wraps it in its progress display); null just calls it.</param>
    public static InputLossResult Run(InputLossOptions options, Action<string>? log = null, Action<ITrainingLoop, Action<CancellationToken>>? runLoop = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        var total = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        void Log(string s) => log?.Invoke(s);
        runLoop ??= (_, run) => run(cancellation);
        var outDir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        foreach (var sub in new[] { "data", "qa", "runs", "eval", "prompts" })
            if (Directory.Exists(Path.Combine(outDir, sub))) Directory.Delete(Path.Combine(outDir, sub), recursive: true);
        int phaseCount = options.ModelPath is null ? 8 : 6, phase = 0;
        string Phase() => $"[{++phase}/{phaseCount}] phase: ";
        int TL = options.LongLength;
        var watch = Stopwatch.StartNew();

        // 1. The base model: given, or pretrained short and extended 8× with ABF here.
        LlamaModel baseModel;
        ITokenizer tokenizer;
        string baseDescription, corpusName;
        List<string> trainTexts, heldOutTexts;
        if (options.ModelPath is { } given)
        {
            Log(Phase() + $"load {given}");
            var path = Directory.Exists(given) && File.Exists(Path.Combine(given, Trainer.GgufFileName)) && !File.Exists(Path.Combine(given, "config.json"))
                ? Path.Combine(given, Trainer.GgufFileName) : given;
            baseModel = ModelLoader.Load(path);
            tokenizer = baseModel.Vocabulary is { } v ? TokenizerLoader.FromVocabulary(v, baseModel.Source)
                : throw new ArgumentException($"--model {given} carries no vocabulary; give a model with its tokenizer (GGUF or a folder with tokenizer files)");
            if (baseModel.Config.MaxPositionEmbeddings < TL)
                Log($"note: {given} was trained to {baseModel.Config.MaxPositionEmbeddings} positions; tuning and evaluating at {TL}");
            (trainTexts, heldOutTexts, corpusName) = ExperimentCorpus.Texts(options.CorpusSettings(outDir));
            baseDescription = $"given: {Path.GetFullPath(path)}";
            phases["load model"] = watch.Elapsed.TotalSeconds;
        }
        else
        {
            Log(Phase() + "data");
            var (prepared, tokenizerPath, valTexts, name, _) = RopeAblation.PrepareData(options.CorpusSettings(outDir), outDir, Log);
            tokenizer = TokenizerLoader.Load(tokenizerPath);
            (trainTexts, heldOutTexts, corpusName) = ExperimentCorpus.Texts(options.CorpusSettings(outDir));
            corpusName = name;
            phases["data"] = watch.Elapsed.TotalSeconds;
            baseModel = TrainBase(options, prepared, tokenizer, outDir, runLoop, phases, Phase, Log, cancellation);
            baseDescription = string.Create(CultureInfo.InvariantCulture,
                $"pretrained here: {options.BaseSteps} steps at {options.ShortLength} tokens (θ {options.Theta:G}), extended {options.ExtendSteps} steps at {TL} (ABF θ {options.Theta * options.AbfFactor:G}); {options.TokensPerStep} tokens per step");
        }
        if (options.EvalCorpusPath is { } ec)
        {
            using var eval = EvalCorpus.Open(ec);
            heldOutTexts = Enumerable.Range(0, eval.Count).Select(i => eval.Text(i, tokenizer)).ToList();
        }
        cancellation.ThrowIfCancellationRequested();

        // 2. Long QA: documents with planted facts; self-instruct over the training ones; held-out questions as a task file.
        watch.Restart();
        Log(Phase() + $"long QA: {options.TrainDocuments} training documents through self-instruct, {options.TestDocuments} held out");
        var template = Tokenization.ChatTemplate.FromName(options.ChatTemplate);
        int answerBudget = AnswerBudget(tokenizer, template);
        int longestDocument = LongestDocument(options, tokenizer, template, answerBudget);
        // A small vocabulary spells the chat markup and the answer in many pieces; the documents then shrink to fit.
        if (longestDocument < 48)
            throw new ArgumentException($"at {options.LongLength} tokens the prompt around a QA document and its {answerBudget}-token answer leave only {longestDocument} tokens for the document: use a longer --seq-len");
        var documentTokens = (Min: Math.Min(options.DocumentTokens.Min, longestDocument * 2 / 3), Max: longestDocument);
        var (trainJsonl, taskFile, selfInstruct, documents) = BuildQa(options, tokenizer, trainTexts, heldOutTexts, outDir, documentTokens, Log);
        var promptsDir = Path.Combine(outDir, "prompts");
        Directory.CreateDirectory(promptsDir);
        AtomicFile.WriteAllText(Path.Combine(promptsDir, TaskName + ".txt"), PromptTemplate(answerBudget) + "\n");
        Log(string.Create(CultureInfo.InvariantCulture, $"answers may take {answerBudget} tokens; documents {documentTokens.Min}–{documentTokens.Max} tokens, so no prompt is cut"));
        phases["long QA"] = watch.Elapsed.TotalSeconds;
        Log(string.Create(CultureInfo.InvariantCulture,
            $"self-instruct kept {selfInstruct.Kept} training pairs from {selfInstruct.Documents} documents ({selfInstruct.Generated} teacher replies); {options.TestDocuments} held-out questions in {taskFile}"));
        if (selfInstruct.Kept == 0) throw new ArgumentException("self-instruct kept no training pair: the documents are too short for a chunk to hold a whole fact");

        // 3. Instruction tuning, twice; 4. the harness on the base and both tuned models.
        var labeled = InstructionReader.Read(trainJsonl).Select(e => InstructionRenderer.Render(e, tokenizer, template)).ToList();
        var models = new List<InputLossModel>();
        var files = TaskFileReader.ReadAll([taskFile]);
        var prompts = TaskPrompts.Load(promptsDir, [TaskName]);
        watch.Restart();
        Log(Phase() + "evaluate the base model (not tuned)");
        models.Add(Evaluate("base", "not instruction-tuned", null, null, baseModel, tokenizer, template, TL, files, prompts, outDir, Log, cancellation));
        phases["eval base"] = watch.Elapsed.TotalSeconds;
        foreach (var loss in new[] { LossTokens.Answers, LossTokens.AnswersAndInput })
        {
            string name = loss == LossTokens.Answers ? "answers" : "answers+input";
            watch.Restart();
            Log(Phase() + $"instruction-tune with loss on {name}, then evaluate");
            var set = FineTuneSequenceBuilder.Build(labeled, new FineTuneSequenceOptions
            {
                SeqLen = TL, Loss = loss, DropTooLong = true, Seed = options.Seed, PadId = FineTuneSequenceOptions.PadIdFor(tokenizer.Vocabulary),
            });
            var ft = new FineTuneOptions
            {
                Epochs = options.Epochs, TokensPerStep = options.FineTuneTokensPerStep, BatchSize = options.FineTuneTokensPerStep / TL,
                LearningRate = options.FineTuneLearningRate, Seed = options.Seed,
            };
            var tuner = FineTuner.Create(baseModel, set.Sequences, ft, Path.Combine(outDir, "runs", name == "answers" ? "tune-answers" : "tune-answers-input"));
            FineTuneSummary? summary = null;
            runLoop(tuner, ct => summary = tuner.Run(ct));
            cancellation.ThrowIfCancellationRequested();
            var tuned = tuner.Model.ToModel(tuner.RunDirectory);
            double tuneSeconds = watch.Elapsed.TotalSeconds;
            var m = Evaluate(name, $"loss on {(loss == LossTokens.Answers ? "the answers" : "the answers and the input")}", set.Report, summary, tuned, tokenizer, template, TL, files, prompts, outDir, Log, cancellation);
            models.Add(m with { TuneSeconds = tuneSeconds - m.EvalSeconds });
            var plot = Path.Combine(outDir, $"tune-loss-{(loss == LossTokens.Answers ? "answers" : "answers-input")}.png");
            File.Copy(Path.Combine(tuner.RunDirectory, Trainer.LossPlotFileName), plot, overwrite: true);
            phases[$"tune + eval {name}"] = watch.Elapsed.TotalSeconds;
        }

        watch.Restart();
        Log(Phase() + "comparison and report");
        var comparison = Compare(models[2], models[1]);
        var valueComparison = CompareValues(models[2], models[1]);
        var conclusion = Conclude(models, comparison, valueComparison);
        var c = baseModel.Config;
        string modelSummary = string.Create(CultureInfo.InvariantCulture,
            $"dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads} heads, ffn {c.IntermediateSize}, vocab {c.VocabSize}; {ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding parameters; RoPE θ {c.RopeTheta:G}");
        phases["comparison"] = watch.Elapsed.TotalSeconds;
        var result = new InputLossResult(options, corpusName, baseDescription, modelSummary, selfInstruct, documents, models, comparison, valueComparison, conclusion,
            phases, total.Elapsed.TotalSeconds);
        EvalJson.Write(Path.Combine(outDir, ResultsFileName), result);
        InputLossReport.Write(Path.Combine(outDir, ReportFileName), result);
        Log(conclusion);
        return result;
    }

    private static LlamaModel TrainBase(InputLossOptions o, string prepared, ITokenizer tokenizer, string outDir, Action<ITrainingLoop, Action<CancellationToken>> runLoop,
        Dictionary<string, double> phases, Func<string> phase, Action<string> log, CancellationToken cancellation)
    {
        int T = o.ShortLength, TL = o.LongLength, batch = o.TokensPerStep / TL;
        var config = ModelPresets.Create(o.Preset, tokenizer.Vocabulary.Count, T) with { RopeTheta = o.Theta };
        TrainerOptions Train(int seqLen, int steps, float lr) => new()
        {
            Sources = [new TrainingSource("data", prepared)], SeqLen = seqLen, TokensPerStep = o.TokensPerStep, BatchSize = batch, Steps = steps,
            LearningRate = lr, WarmupSteps = Math.Max(1, steps / 10), Seed = o.Seed, ValidationWindows = 8, ShuffleChunkTokens = 4096,
        };
        var watch = Stopwatch.StartNew();
        log(phase() + $"pretrain the base at {T} tokens ({o.BaseSteps} steps × {o.TokensPerStep} tokens)");
        using var pre = Trainer.Create(config, Train(T, o.BaseSteps, o.BaseLearningRate), Path.Combine(outDir, "runs", "base"));
        runLoop(pre, ct => pre.Run(ct));
        cancellation.ThrowIfCancellationRequested();
        phases["pretrain base"] = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var longConfig = config with { RopeTheta = o.Theta * o.AbfFactor, MaxPositionEmbeddings = TL };
        log(phase() + $"extend to {TL} tokens with ABF θ {longConfig.RopeTheta:G} ({o.ExtendSteps} steps)");
        using var ext = Trainer.Create(longConfig, Train(TL, o.ExtendSteps, o.ExtendLearningRate), Path.Combine(outDir, "runs", "extended"),
            pre.Model.ToModel(pre.RunDirectory).Weights, pre.Model.Vocabulary);
        runLoop(ext, ct => ext.Run(ct));
        cancellation.ThrowIfCancellationRequested();
        phases["extend base"] = watch.Elapsed.TotalSeconds;
        return ext.Model.ToModel(ext.RunDirectory);
    }

    private static (string TrainJsonl, string TaskFile, SelfInstructReport Report, InputLossDocuments Documents) BuildQa(InputLossOptions o, ITokenizer tok,
        List<string> trainTexts, List<string> heldOutTexts, string outDir, (int Min, int Max) documentTokens, Action<string> log)
    {
        var qaDir = Path.Combine(outDir, "qa");
        var docsDir = Path.Combine(qaDir, "docs-train");
        Directory.CreateDirectory(docsDir);
        var rng = new SplitMix64(o.Seed);
        var keys = PasswordFacts.ShuffledKeys(ref rng);
        var trainSentences = trainTexts.SelectMany(PasswordFacts.Sentences).ToList();
        var testSentences = heldOutTexts.SelectMany(PasswordFacts.Sentences).ToList();
        if (trainSentences.Count < 3 || testSentences.Count < 3) throw new ArgumentException("the corpus has too few sentences to cut QA documents from");
        var (min, max) = documentTokens;
        var trainTokens = new List<int>();
        var factOffsets = new List<int>();
        for (int d = 0; d < o.TrainDocuments; d++)
        {
            var value = PasswordFacts.Values[rng.NextInt(PasswordFacts.Values.Length)];
            var (text, factToken, tokens) = PasswordFacts.Document(trainSentences, tok, min + rng.NextInt(max - min + 1), PasswordTeacher.Fact(keys[d], value), ref rng);
            File.WriteAllText(Path.Combine(docsDir, $"train-{d:D4}.txt"), text);
            trainTokens.Add(tokens);
            factOffsets.Add(factToken);
        }
        var trainJsonl = Path.Combine(qaDir, "train.jsonl");
        var report = SelfInstructor.RunAsync(new SelfInstructOptions
        {
            Documents = [docsDir], OutputPath = trainJsonl, Tokenizer = tok, ChunkTokens = o.ChunkTokens, PairsPerDocument = o.PairsPerDocument,
            MaxContext = o.LongLength, Kinds = [SelfInstructKind.Short], Seed = o.Seed, Concurrency = 2,
        }, new PasswordTeacher(sentenceAnswers: true)).GetAwaiter().GetResult();

        // Held out: sentences never trained on, keys never used in training, in L-Eval's task-file form.
        var tasksDir = Path.Combine(qaDir, "tasks");
        Directory.CreateDirectory(tasksDir);
        var lines = new System.Text.StringBuilder();
        var testTokens = new List<int>();
        var testOffsets = new List<int>();
        for (int d = 0; d < o.TestDocuments; d++)
        {
            var key = keys[o.TrainDocuments + d];
            var value = PasswordFacts.Values[rng.NextInt(PasswordFacts.Values.Length)];
            var (text, factToken, tokens) = PasswordFacts.Document(testSentences, tok, min + rng.NextInt(max - min + 1), PasswordTeacher.Fact(key, value), ref rng);
            testTokens.Add(tokens);
            testOffsets.Add(factToken);
            var line = new JsonObject
            {
                ["input"] = text, ["instructions"] = new JsonArray(PasswordTeacher.Question(key)), ["outputs"] = new JsonArray(value), ["evaluation"] = "f1",
            };
            lines.Append(line.ToJsonString()).Append('\n');
        }
        var taskFile = Path.Combine(tasksDir, TaskName + ".jsonl");
        AtomicFile.WriteAllText(taskFile, lines.ToString());
        log(string.Create(CultureInfo.InvariantCulture,
            $"documents: training {trainTokens.Min()}–{trainTokens.Max()} tokens (mean {trainTokens.Average():F0}), held out {testTokens.Min()}–{testTokens.Max()} (mean {testTokens.Average():F0}); facts at tokens {testOffsets.Min()}–{testOffsets.Max()} of the held-out ones"));
        var docs = new InputLossDocuments(trainTokens.Count, trainTokens.Average(), testTokens.Count, testTokens.Average(), min, max,
            testOffsets.Count(x => x < 0.5 * max), testOffsets.Count(x => x >= 0.5 * max));
        return (trainJsonl, taskFile, report, docs);
    }

    private static InputLossModel Evaluate(string name, string description, FineTuneReport? data, FineTuneSummary? summary, LlamaModel model, ITokenizer tok,
        ChatTemplate template, int context, IReadOnlyList<TaskFile> files, TaskPrompts prompts, string outDir, Action<string> log, CancellationToken cancellation)
    {
        var w = Stopwatch.StartNew();
        var evalDir = Path.Combine(outDir, "eval", name == "answers+input" ? "answers-input" : name);
        using var taskModel = new LocalTaskModel(model, tok, context, template, name);
        int done = 0;
        var report = TaskEvaluation.RunAsync(taskModel, files, new TaskRunOptions
        {
            OutputDirectory = evalDir, Lengths = [taskModel.ContextLength], Chat = true, Prompts = prompts,
        }, p =>
        {
            if (++done % 10 == 0 || p.Done == p.Total) log($"eval {name}: {p.Done}/{p.Total} questions");
        }, cancellation).GetAwaiter().GetResult();
        var results = new TaskResultsFile(Path.Combine(evalDir, TaskEvaluation.ResultsFileName)).Load().OrderBy(r => r.Document).ThenBy(r => r.Query).ToList();
        var scores = results.Select(r => r.Score).ToArray();
        var values = results.Select(r => ValueOf(r.Prediction) == r.References[0].ToLowerInvariant() ? 1.0 : 0.0).ToArray();
        var (lo, hi) = MeanInterval(scores);
        var (vlo, vhi) = MeanInterval(values);
        var samples = results.Take(5).Select(r => new InputLossSample(r.Id, r.References[0], r.Prediction, r.Score)).ToList();
        log(string.Create(CultureInfo.InvariantCulture, $"eval {name}: token F1 {scores.Average():F3} [{lo:F3}, {hi:F3}], right value named {values.Average():F3} [{vlo:F3}, {vhi:F3}]"));
        return new InputLossModel(name, description, data?.Examples, data?.LossTokenCount, data?.Tokens, summary?.Steps, summary?.FinalLoss, 0, w.Elapsed.TotalSeconds,
            scores.Average(), lo, hi, values.Average(), vlo, vhi, results.Count(r => PasswordFacts.Values.Contains(ValueOf(r.Prediction))),
            results.Select(r => r.Id).ToList(), scores, values, samples, report.Cells.FirstOrDefault()?.Seconds ?? 0, results.Count(r => r.Truncated));
    }

    /// <summary>The value a reply names: the word after "is" when it restates the fact, else its first word (lower case).</summary>
    internal static string ValueOf(string reply) =>
        (ValueAfterIs().Match(reply) is { Success: true } m ? m.Groups[1].Value : FirstWord().Match(reply.ToLowerInvariant()).Value).ToLowerInvariant();

    /// <summary>
    /// The 95% percentile-bootstrap interval of a mean, as the paired bootstrap computes it for a difference from a
    /// model that scores 0 everywhere (the same resampling of items, seed 1).
    /// </summary>
    internal static (double Lower, double Upper) MeanInterval(IReadOnlyList<double> scores)
    {
        var r = PairedBootstrap.Compare(scores, new double[scores.Count], seed: 1);
        return (r.Lower, r.Upper);
    }

    private static TaskComparisonRow Compare(InputLossModel a, InputLossModel b) =>
        TaskComparison.Compare(TaskName, a.Ids.Zip(a.Scores).ToDictionary(x => x.First, x => x.Second), b.Ids.Zip(b.Scores).ToDictionary(x => x.First, x => x.Second), seed: 1);

    private static TaskComparisonRow CompareValues(InputLossModel a, InputLossModel b) =>
        TaskComparison.Compare(TaskName + " (value named)", a.Ids.Zip(a.Values).ToDictionary(x => x.First, x => x.Second), b.Ids.Zip(b.Values).ToDictionary(x => x.First, x => x.Second), seed: 1);

    /// <summary>
    /// The verdict from the numbers: whether a tuned model names the right value more often than a guess (its
    /// interval's lower end above 1/16), and the paired difference's interval against 0 — on token F1 when some model
    /// has the skill, else "not shown": without retrieval a difference reflects only how the replies are worded.
    /// </summary>
    internal static string Conclude(IReadOnlyList<InputLossModel> models, TaskComparisonRow d, TaskComparisonRow values)
    {
        var ci = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        foreach (var m in models)
            parts.Add(string.Create(ci,
                $"{m.Name}: token F1 {m.Score:F3} [{m.Lower:F3}, {m.Upper:F3}], right value named {m.ValueScore:F3} [{m.ValueLower:F3}, {m.ValueUpper:F3}] on {m.Scores.Count} held-out questions{(m.ValueLower > Chance ? " (above the 1-in-16 chance of a guess)" : " (not above the 1-in-16 chance of a guess)")}."));
        string S(double x) => x.ToString("+0.000;-0.000;0.000", ci);
        parts.Add(string.Create(ci,
            $"answers+input − answers: token F1 {S(d.Difference)} [{S(d.Lower)}, {S(d.Upper)}] (paired bootstrap, p = {d.PValue:F3}); right value named {S(values.Difference)} [{S(values.Lower)}, {S(values.Upper)}]."));
        bool skill = models.Any(m => m.Name != "base" && m.ValueLower > Chance);
        string verdict = !skill
            ? "**not shown** — neither tuned model names the right value more often than a guess, so this run has no long-QA skill for the loss choice to change; any difference in token F1 reflects how the replies are worded, not retrieval"
            : d.Lower > 0 ? "**yes** — loss on the input gave a higher held-out score, the direction of the paper's Table 9"
            : d.Upper < 0 ? "**no, the opposite** — loss on the input gave a lower held-out score"
            : "**not shown** — the interval of the difference includes 0";
        parts.Add($"Loss on long input helps long tasks: {verdict}.");
        return string.Join(" ", parts);
    }

    [GeneratedRegex(@"\bis (\w+)")]
    private static partial Regex ValueAfterIs();

    [GeneratedRegex(@"[a-z]+")]
    private static partial Regex FirstWord();
}
