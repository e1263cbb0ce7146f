using System.CommandLine;
using System.Globalization;
using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;
using Elongate.Serving;
using Elongate.Tokenization;
using Spectre.Console;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate eval tasks --tasks DIR|FILE… (-m MODEL | --endpoint URL …) --out DIR`: long-document QA, exam and
/// summarisation tasks (L-Eval, SCROLLS / ZeroSCROLLS style) by greedy generation; <see cref="TaskEvaluation"/> does
/// the work, this parses, shows progress and prints the table.
/// </summary>
internal static class EvalTasksCommand
{
    private const string Help = """
        Files: L-Eval JSON Lines (input, instructions[], outputs[], evaluation = exam|f1|rouge) or SCROLLS style (id,
        input = question, blank line, document; output or outputs[]; ZeroSCROLLS' document/query offsets are used when
        present). The task name is the file name without extension. A SCROLLS-style file without an "evaluation" key
        is scored by its task name (gov_report, summ_screen_fd, qmsum, squality: rouge; narrative_qa, qasper, musique:
        f1; quality, contract_nli: exam) or by --metric.
        Prompts: one template per kind (exam-choice, exam-short, exam-number, qa, summary); --write-prompts DIR writes
        the built-in ones to edit, --prompts DIR uses KIND.txt or TASK.txt files from DIR instead.
        Fitting: each length L caps prompt + answer budget at min(L, context); the document is cut in the model's tokens
        (middle: keep start and end; left: keep the end); the question is never cut. With k shots, each example's
        document gets at most 1/(k+1) of the room left for documents and the question's document the rest.
        Output: results.jsonl (one line per answer; rerunning with the same --out resumes), run.json, report.json,
        scores.png (score against length per task).
        Log-likelihood (--mode loglikelihood): L-Eval exam files whose questions list lettered options (tpo, coursera)
        are scored as lm-evaluation-harness scores multiple choice (acc; acc_norm divides by the choice's characters),
        fitted per length as above; other files are still answered by generation. Multiple-choice files (ARC,
        HellaSwag, MMLU, PIQA, TruthfulQA MC1/MC2, generic question+choices+gold; detected from the first line) are
        always scored by log-likelihood, once per shot count within the model's context. Records: mc/TASK.L<len>.<k>shot.jsonl.
        Comparing: --compare MODEL or --compare-endpoint URL runs a second model B on the same items into OUT/b
        (A into OUT/a) and writes OUT/comparison.json: B − A per task, metric, length and shots with a 95%
        paired-bootstrap interval (seeded by --seed).
        """;

    public static Command Create()
    {
        var tasks = new Option<string[]>("--tasks", "-t") { Description = "Task files (.jsonl) or folders of them (searched recursively)", AllowMultipleArgumentsPerToken = true };
        var model = new Option<string?>("--model", "-m") { Description = "Local model: GGUF, llama2.c .bin, or a Hugging Face folder" };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin, tokenizer.json (or its folder) or a GGUF (default: the model's own vocabulary)" };
        var context = new Option<int>("--context", "-c") { Description = "Local model: session context in tokens (default: the largest length); --endpoint: a cap on the server's context (default: what the server reports)" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template of a local model for --chat, overriding its own (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var endpoint = new EndpointOptions();
        var maxInput = new Option<int>("--max-input") { Description = "Cap on prompt + answer budget in tokens (the paper truncates to 16,384)", DefaultValueFactory = _ => 16384 };
        var shots = new Option<string>("--shots") { Description = "Comma-separated few-shot counts, e.g. 0,1,2 (examples from other documents of the same file)", DefaultValueFactory = _ => "0" };
        var truncate = new Option<string>("--truncate") { Description = "middle (keep the document's start and end, as LongBench) or left (keep the end)", DefaultValueFactory = _ => "middle" };
        var lengths = new Option<string?>("--lengths") { Description = "Comma-separated length caps ≤ --max-input for the score-against-length curve, e.g. 2048,4096,8192,16384 (default: --max-input)" };
        var limit = new Option<int?>("--limit") { Description = "Questions per file (the first N)" };
        var chat = new Option<bool>("--chat") { Description = "Send each prompt as one user message through the chat template" };
        var prompts = new Option<string?>("--prompts") { Description = "Folder of prompt templates overriding the built-in ones (KIND.txt or TASK.txt)" };
        var writePrompts = new Option<string?>("--write-prompts") { Description = "Write the built-in prompt templates into this folder and exit" };
        var seed = new Option<int>("--seed") { Description = "Seed of the few-shot draws", DefaultValueFactory = _ => 1 };
        var metric = new Option<string?>("--metric") { Description = "exam, f1 or rouge for task files that do not say (overrides their evaluation key)" };
        var output = new Option<string?>("--out", "-o") { Description = "Output folder (results.jsonl, run.json, report.json, scores.png); rerun with the same folder to resume" };
        var mode = new Option<string>("--mode") { Description = "generate (every file by greedy generation) or loglikelihood (L-Eval exam files with lettered options scored as multiple choice)", DefaultValueFactory = _ => "generate" };
        var choiceStyle = new Option<string>("--choice-style") { Description = "Log-likelihood L-Eval questions: letters (options listed, ' A'/' B'/… scored, as MMLU) or options (the option texts scored, as ARC)", DefaultValueFactory = _ => "letters" };
        var compare = new Option<string?>("--compare") { Description = "Second local model B to compare with A on the same items (OUT/a, OUT/b, OUT/comparison.json)" };
        var compareTokenizer = new Option<string?>("--compare-tokenizer") { Description = "Tokenizer of --compare (default: its own vocabulary)" };
        var compareContext = new Option<int>("--compare-context") { Description = "Context of --compare (default: as --context for A); for --compare-endpoint a cap on the server's context" };
        var compareEndpoint = new EndpointOptions("compare", "--compare");
        var rope = new RopeOverrides();
        var running = new ModelOptions();
        var cmd = new Command("tasks", "Long-document tasks (L-Eval, SCROLLS-style): exam, QA and summaries by greedy generation, scored per task and length\n\n" + Help)
        {
            tasks, model, tokenizer, context, chatTemplate, maxInput, shots, truncate, lengths, limit, chat, prompts, writePrompts, seed, metric, output,
            mode, choiceStyle, compare, compareTokenizer, compareContext,
        };
        endpoint.AddTo(cmd);
        compareEndpoint.AddTo(cmd);
        rope.AddTo(cmd);
        running.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval tasks", (stdout, stderr) =>
        {
            if (parse.GetValue(writePrompts) is { } promptDir)
            {
                foreach (var path in TaskPrompts.WriteDefaults(promptDir)) stdout.WriteLine($"wrote {path}");
                return 0;
            }
            var taskPaths = parse.GetValue(tasks) ?? [];
            if (taskPaths.Length == 0) throw new ArgumentException("--tasks: give task files or folders");
            var outDir = parse.GetValue(output) ?? throw new ArgumentException("--out: give an output folder");
            bool remote = endpoint.IsRemote(parse);
            if (remote == (parse.GetValue(model) is not null)) throw new ArgumentException("give either --model or --endpoint");
            if (remote && parse.GetValue(chatTemplate) is not null) throw new ArgumentException("--chat-template applies to a local --model; the server applies its own");
            int cap = parse.GetValue(maxInput);
            if (cap <= 0) throw new ArgumentException("--max-input must be positive");
            var caps = parse.GetValue(lengths) is { } l ? EvalSupport.ParseInts(l, "--lengths") : [cap];
            if (caps.FirstOrDefault(x => x > cap) is var over and > 0)
                throw new ArgumentException($"--lengths: {over} exceeds --max-input {cap}; raise --max-input to ask for longer inputs");
            TaskMetric? metricOverride = parse.GetValue(metric) is { } m
                ? TaskFileReader.ParseMetric(m) ?? throw new ArgumentException($"--metric must be exam, f1 or rouge, got '{m}'")
                : null;
            var runMode = parse.GetValue(mode)!.Trim().ToLowerInvariant() switch
            {
                "generate" => TaskMode.Generate,
                "loglikelihood" => TaskMode.LogLikelihood,
                var x => throw new ArgumentException($"--mode must be generate or loglikelihood, got '{x}'"),
            };
            var style = parse.GetValue(choiceStyle)!.Trim().ToLowerInvariant() switch
            {
                "letters" => LEvalChoiceStyle.Letters,
                "options" => LEvalChoiceStyle.OptionTexts,
                var x => throw new ArgumentException($"--choice-style must be letters or options, got '{x}'"),
            };
            bool compareRemote = compareEndpoint.IsRemote(parse);
            bool comparing = compareRemote || parse.GetValue(compare) is not null;
            if (compareRemote && parse.GetValue(compare) is not null) throw new ArgumentException("give either --compare or --compare-endpoint");
            var selection = TaskSelection.Load(taskPaths, metricOverride, runMode);
            var options = new TaskRunOptions
            {
                OutputDirectory = comparing ? Path.Combine(outDir, "a") : outDir,
                Lengths = caps,
                Shots = ParseShots(parse.GetValue(shots)!),
                Truncation = parse.GetValue(truncate)!.Trim().ToLowerInvariant() switch
                {
                    "middle" => TaskTruncation.Middle,
                    "left" => TaskTruncation.Left,
                    var t => throw new ArgumentException($"--truncate must be middle or left, got '{t}'"),
                },
                Limit = parse.GetValue(limit),
                Chat = parse.GetValue(chat),
                Seed = parse.GetValue(seed),
                Prompts = TaskPrompts.Load(parse.GetValue(prompts), selection.Generation.Select(f => f.Name).ToList()),
                Mode = runMode,
                ChoiceStyle = style,
            };
            options.Validate();
            if (runMode == TaskMode.LogLikelihood && selection.Generation.Count > 0)
                stderr.WriteLine($"note: {string.Join(", ", selection.Generation.Select(f => f.Name))}: no lettered options to score by log-likelihood; answered by generation");
            if (selection.Choice.Count > 0)
                stderr.WriteLine($"note: {string.Join(", ", selection.Choice.Select(f => $"{TaskSelection.NameOf(f.Path)} ({f.Format.ToString().ToLowerInvariant()}, {f.Items.Count} items)"))}: multiple-choice files, scored by log-likelihood");

            var console = EvalSupport.Console(stdout);
            var runA = RunOne(() => remote ? OpenRemote(parse, endpoint, tokenizer, context) : OpenLocal(parse, parse.GetValue(model)!, parse.GetValue(tokenizer), context, chatTemplate, rope, running, caps, stderr, applyRope: true),
                selection, options, stdout, stderr, console, comparing ? "A" : null);
            if (runA is null) return 130;
            if (!comparing) return 0;
            var optionsB = new TaskRunOptions
            {
                OutputDirectory = Path.Combine(outDir, "b"), Lengths = options.Lengths, Shots = options.Shots, Truncation = options.Truncation,
                Limit = options.Limit, Chat = options.Chat, Seed = options.Seed, Prompts = options.Prompts, Mode = options.Mode, ChoiceStyle = options.ChoiceStyle,
            };
            var runB = RunOne(() => compareRemote
                    ? OpenRemote(parse, compareEndpoint, compareTokenizer, compareContext)
                    : OpenLocal(parse, parse.GetValue(compare)!, parse.GetValue(compareTokenizer), parse.GetValue(compareContext) > 0 ? compareContext : context, null, rope, running, caps, stderr, applyRope: false),
                selection, optionsB, stdout, stderr, console, "B");
            if (runB is null) return 130;
            var comparison = TaskRunComparison.Compare(runA, runB, Path.GetFullPath(options.OutputDirectory), Path.GetFullPath(optionsB.OutputDirectory), options.Seed, options.BootstrapResamples);
            var json = Path.Combine(Path.GetFullPath(outDir), TaskRunComparison.FileName);
            EvalJson.Write(json, comparison);
            console.Write(ComparisonTable(comparison));
            stdout.WriteLine($"wrote {json}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// Opens a model, runs the tasks into <paramref name="options"/>' folder, prints its table and writes its plot;
    /// null when interrupted (Ctrl+C stops after the current item; everything done is already recorded).
    /// </summary>
    private static TaskRun? RunOne(Func<ITaskModel> open, TaskSelection selection, TaskRunOptions options, TextWriter stdout, TextWriter stderr,
        IAnsiConsole console, string? label)
    {
        using var taskModel = open();
        var caps = options.Lengths;
        if (caps.Any(c => c > taskModel.ContextLength))
            stderr.WriteLine($"note: {taskModel.Name} has a {taskModel.ContextLength}-token context; longer lengths are capped to it");
        int questions = selection.Generation.Sum(f => f.Queries(options.Limit).Count()) + selection.LEvalChoice.Sum(f => f.Queries(options.Limit).Count());
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(label is null ? "" : $"model {label}: ")}{selection.Generation.Count + selection.LEvalChoice.Count} task files, {questions} questions × {options.Lengths.Count} lengths × {options.Shots.Count} shot counts{(selection.Choice.Count > 0 ? $", {selection.Choice.Count} multiple-choice files" : "")}; model {taskModel.Name} ({taskModel.ContextLength}-token context)"));
        // Ctrl+C stops after the current answer; everything answered is already in results.jsonl or mc/.
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        TaskRun run;
        try
        {
            run = Run(taskModel, selection, options, stdout, stderr, cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            stdout.WriteLine($"interrupted; the answers so far are in {Path.GetFullPath(options.OutputDirectory)}: run the same command again to resume");
            return null;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        var report = run.Report;
        var dir = Path.GetFullPath(options.OutputDirectory);
        var png = Path.Combine(dir, TaskEvaluation.PlotFileName);
        bool plotted = TaskPlots.WriteScoreByLength(png, report, $"{taskModel.Name}: task score against input length");
        if (report.Cells.Count > 0) console.Write(Table(report));
        if (report.MultipleChoice.Count > 0) console.Write(ChoiceTable(report));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(label is null ? "" : $"model {label}: ")}{report.Answered} answered now, {report.Resumed} from earlier runs; wrote {Path.Combine(dir, TaskEvaluation.ReportFileName)}{(plotted ? $", {png}" : "")} (per answer: {report.Results}{(report.MultipleChoice.Count > 0 ? $", {Path.Combine(dir, MultipleChoiceTaskRunner.RecordsFolder)}" : "")})"));
        return run;
    }

    private static int[] ParseShots(string text)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException("--shots: give at least one count");
        return items.Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v : throw new ArgumentException($"--shots: '{s}' is not a count ≥ 0")).ToArray();
    }

    /// <summary>A local model; the --rope overrides apply to model A only (B is compared as it is).</summary>
    private static ITaskModel OpenLocal(ParseResult parse, string path, string? tokenizer, Option<int> context, Option<string?>? chatTemplate,
        RopeOverrides rope, ModelOptions running, IReadOnlyList<int> caps, TextWriter stderr, bool applyRope)
    {
        var m = running.Load(parse, path);
        if (applyRope)
        {
            var (config, _) = rope.Apply(m.Config, parse, m.Source);
            m = m.With(config);
        }
        var tok = GenerateCommand.LoadTokenizer(tokenizer, m);
        int ctx = parse.GetValue(context) is > 0 and var c ? c : caps.Max();
        var template = chatTemplate is not null && parse.GetValue(chatTemplate) is { Length: > 0 } name ? ChatTemplate.FromName(name) : null;
        ModelOptions.PrintMemory(stderr, m, ctx);
        return new LocalTaskModel(m, tok, ctx, template, ownsModel: true);
    }

    /// <summary>
    /// The model behind --endpoint: --remote-model picks it (default: the first the server lists), --api-key-env names
    /// the key's variable, --context caps the server's context, and --tokenizer replaces llama-server's /tokenize.
    /// </summary>
    private static ITaskModel OpenRemote(ParseResult parse, EndpointOptions endpoint, Option<string?> tokenizer, Option<int> context)
    {
        var url = parse.GetValue(endpoint.Endpoint)!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) throw new ArgumentException($"--endpoint '{url}' is not an absolute URL");
        string? key = null;
        if (parse.GetValue(endpoint.ApiKeyEnv) is { } variable)
        {
            key = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(key)) throw new ArgumentException($"--api-key-env: environment variable {variable} is not set");
        }
        int ctx = parse.GetValue(context);
        if (ctx < 0) throw new ArgumentException("--context must be ≥ 0");
        var options = new RemoteTaskModelOptions
        {
            Model = parse.GetValue(endpoint.RemoteModel),
            ApiKey = key,
            ContextLength = ctx,
            Tokenizer = parse.GetValue(tokenizer) is { } path ? Formats.TokenizerLoader.Load(path) : null,
        };
        return RemoteTaskModel.ConnectAsync(uri, options).GetAwaiter().GetResult();
    }

    /// <summary>Runs with a progress bar on a terminal, else one line per finished cell on stderr.</summary>
    private static TaskRun Run(ITaskModel model, TaskSelection selection, TaskRunOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (ConsoleUi.IsInteractive(stdout))
        {
            return ConsoleUi.Create(stdout).Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask? bar = null;
                    return TaskEvaluation.RunAsync(model, selection, options, p =>
                    {
                        bar ??= ctx.AddTask("tasks", maxValue: p.Total);
                        bar.Description = Markup.Escape($"{p.Task} L={p.Length} {p.Shots}-shot ({p.Done}/{p.Total}{(p.Resumed > 0 ? $", {p.Resumed} resumed" : "")})");
                        bar.Value = p.Done;
                    }, cancellationToken).GetAwaiter().GetResult();
                });
        }
        var cellSizes = TaskEvaluation.Plan(selection.Generation, options).GroupBy(x => (x.File.Name, x.Shots, x.Length)).ToDictionary(g => g.Key, g => g.Count());
        var seen = new Dictionary<(string, int, int), (int Count, double Score)>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        return TaskEvaluation.RunAsync(model, selection, options, p =>
        {
            var key = (p.Task, p.Shots, p.Length);
            if (!cellSizes.ContainsKey(key))
            {
                // A log-likelihood item: the library summarises its cell when the cell is done.
                if (p.CellSummary is { } summary)
                {
                    stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{p.Done}/{p.Total}] {p.Task} L={p.Length} {p.Shots}-shot (log-likelihood): {summary} ({watch.Elapsed.TotalSeconds:F0} s)"));
                    stderr.Flush();
                }
                return;
            }
            var (count, score) = seen.GetValueOrDefault(key);
            seen[key] = (count + 1, score + (p.Last?.Score ?? double.NaN));
            if (count + 1 < cellSizes[key]) return;
            var mean = seen[key].Score / (count + 1);
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{p.Done}/{p.Total}] {p.Task} L={p.Length} {p.Shots}-shot: {count + 1} questions{(double.IsNaN(mean) ? " (some from an earlier run)" : $", mean answer score {mean * 100:F1}")} ({watch.Elapsed.TotalSeconds:F0} s)"));
            stderr.Flush();
        }, cancellationToken).GetAwaiter().GetResult();
    }

    private static Spectre.Console.Table Table(TaskReport report)
    {
        var t = EvalSupport.Table($"Task scores: {report.Model} ({report.Truncation} truncation{(report.Chat ? ", chat" : "")})",
            "task", "metric", "length", "shots", "n", "score %", "R1/R2/RL %", "unparsed", "truncated", "over cap", "errors", "prompt tok", "gen tok", "time s");
        foreach (var c in report.Cells)
            EvalSupport.AddRow(t, c.Task, c.Metric, I(c.Length), I(c.Shots), I(c.N), EvalSupport.F(c.Score * 100, "F1"), Rouge(c), I(c.Unparsed), I(c.Truncated), I(c.OverBudget), I(c.Errors),
                I(c.PromptTokens), I(c.GeneratedTokens), EvalSupport.F(c.Seconds, "F1"));
        foreach (var o in report.Overall)
            EvalSupport.AddRow(t, $"overall ({o.Tasks} tasks)", "mean", I(o.Length), I(o.Shots), I(o.N), EvalSupport.F(o.Score * 100, "F1"), "", I(o.Unparsed), I(o.Truncated), I(o.OverBudget), I(o.Errors),
                I(o.PromptTokens), I(o.GeneratedTokens), EvalSupport.F(o.Seconds, "F1"));
        return t;
    }

    private static Spectre.Console.Table ChoiceTable(TaskReport report)
    {
        var t = EvalSupport.Table($"Log-likelihood multiple choice: {report.Model} ({report.Truncation} truncation)",
            "task", "format", "length", "shots", "n", "acc %", "acc_norm %", "mc1 %", "mc2 %", "multi-gold", "truncated", "skipped", "not convertible", "resumed", "time s");
        foreach (var c in report.MultipleChoice)
            EvalSupport.AddRow(t, c.Task, c.Format, c.Length is { } l ? I(l) : "context", I(c.Shots), I(c.N), P(c.Acc), P(c.AccNorm), P(c.Mc1), P(c.Mc2),
                I(c.MultiGold), I(c.Truncated), I(c.Skipped), I(c.Unconverted), I(c.Resumed), EvalSupport.F(c.Seconds, "F1"));
        return t;
    }

    private static Spectre.Console.Table ComparisonTable(TaskComparisonReport comparison)
    {
        var t = EvalSupport.Table($"B − A: A = {comparison.ModelA} ({comparison.RunA}), B = {comparison.ModelB} ({comparison.RunB}); {comparison.Confidence * 100:0.#}% paired-bootstrap CI, {comparison.Resamples} resamples, seed {comparison.Seed}",
            "task", "metric", "length", "shots", "n", "A %", "B %", "B − A %", "95% CI %", "p", "unpaired");
        foreach (var c in comparison.Cells)
            EvalSupport.AddRow(t, c.Task, c.Metric, c.Length is { } l ? I(l) : "context", I(c.Shots), I(c.N), P(c.ScoreA), P(c.ScoreB),
                S(c.Difference), $"[{S(c.Lower)}, {S(c.Upper)}]", double.IsNaN(c.PValue) ? "-" : EvalSupport.F(c.PValue, "F3"), I(c.OnlyInA + c.OnlyInB));
        return t;
    }

    private static string P(double? v) => v is { } x && !double.IsNaN(x) ? EvalSupport.F(x * 100, "F1") : "-";

    private static string S(double v) => double.IsNaN(v) ? "-" : (v * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);

    private static string Rouge(TaskCell c) => c.Rouge1 is { } r1
        ? $"{EvalSupport.F(r1 * 100, "F1")}/{EvalSupport.F(c.Rouge2!.Value * 100, "F1")}/{EvalSupport.F(c.RougeL!.Value * 100, "F1")}"
        : "";

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
