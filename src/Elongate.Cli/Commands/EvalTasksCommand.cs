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
        var rope = new RopeOverrides();
        var running = new ModelOptions();
        var cmd = new Command("tasks", "Long-document tasks (L-Eval, SCROLLS-style): exam, QA and summaries by greedy generation, scored per task and length\n\n" + Help)
        {
            tasks, model, tokenizer, context, chatTemplate, maxInput, shots, truncate, lengths, limit, chat, prompts, writePrompts, seed, metric, output,
        };
        endpoint.AddTo(cmd);
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
            var files = TaskFileReader.ReadAll(taskPaths, metricOverride);
            var options = new TaskRunOptions
            {
                OutputDirectory = outDir,
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
                Prompts = TaskPrompts.Load(parse.GetValue(prompts), files.Select(f => f.Name).ToList()),
            };
            options.Validate();
            using var taskModel = remote ? OpenRemote(parse, endpoint, tokenizer, context) : OpenLocal(parse, model, tokenizer, context, chatTemplate, rope, running, caps, stderr);
            if (caps.Any(c => c > taskModel.ContextLength))
                stderr.WriteLine($"note: {taskModel.Name} has a {taskModel.ContextLength}-token context; longer lengths are capped to it");
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{files.Count} task files, {files.Sum(f => f.Queries(options.Limit).Count())} questions × {options.Lengths.Count} lengths × {options.Shots.Count} shot counts; model {taskModel.Name} ({taskModel.ContextLength}-token context)"));
            // Ctrl+C stops after the current answer; everything answered is already in results.jsonl.
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
            Console.CancelKeyPress += onCancel;
            TaskReport report;
            try
            {
                report = Run(taskModel, files, options, stdout, stderr, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                stdout.WriteLine($"interrupted; the answers so far are in {Path.Combine(Path.GetFullPath(outDir), TaskEvaluation.ResultsFileName)}: run the same command again to resume");
                return 130;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            var dir = Path.GetFullPath(outDir);
            var png = Path.Combine(dir, TaskEvaluation.PlotFileName);
            TaskPlots.WriteScoreByLength(png, report, $"{taskModel.Name}: task score against input length");
            var console = EvalSupport.Console(stdout);
            console.Write(Table(report));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{report.Answered} answered now, {report.Resumed} from earlier runs; wrote {Path.Combine(dir, TaskEvaluation.ReportFileName)}, {png} (per answer: {report.Results})"));
            return 0;
        }));
        return cmd;
    }

    private static int[] ParseShots(string text)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException("--shots: give at least one count");
        return items.Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? v : throw new ArgumentException($"--shots: '{s}' is not a count ≥ 0")).ToArray();
    }

    private static ITaskModel OpenLocal(ParseResult parse, Option<string?> model, Option<string?> tokenizer, Option<int> context, Option<string?> chatTemplate,
        RopeOverrides rope, ModelOptions running, int[] caps, TextWriter stderr)
    {
        var m = running.Load(parse, parse.GetValue(model)!);
        var (config, _) = rope.Apply(m.Config, parse, m.Source);
        m = m.With(config);
        var tok = GenerateCommand.LoadTokenizer(parse.GetValue(tokenizer), m);
        int ctx = parse.GetValue(context) is > 0 and var c ? c : caps.Max();
        var template = parse.GetValue(chatTemplate) is { Length: > 0 } name ? ChatTemplate.FromName(name) : null;
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
    private static TaskReport Run(ITaskModel model, IReadOnlyList<TaskFile> files, TaskRunOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (ConsoleUi.IsInteractive(stdout))
        {
            return ConsoleUi.Create(stdout).Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask? bar = null;
                    return TaskEvaluation.RunAsync(model, files, options, p =>
                    {
                        bar ??= ctx.AddTask("tasks", maxValue: p.Total);
                        bar.Description = Markup.Escape($"{p.Task} L={p.Length} {p.Shots}-shot ({p.Done}/{p.Total}{(p.Resumed > 0 ? $", {p.Resumed} resumed" : "")})");
                        bar.Value = p.Done;
                    }, cancellationToken).GetAwaiter().GetResult();
                });
        }
        var cellSizes = TaskEvaluation.Plan(files, options).GroupBy(x => (x.File.Name, x.Shots, x.Length)).ToDictionary(g => g.Key, g => g.Count());
        var seen = new Dictionary<(string, int, int), (int Count, double Score)>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        return TaskEvaluation.RunAsync(model, files, options, p =>
        {
            var key = (p.Task, p.Shots, p.Length);
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

    private static string Rouge(TaskCell c) => c.Rouge1 is { } r1
        ? $"{EvalSupport.F(r1 * 100, "F1")}/{EvalSupport.F(c.Rouge2!.Value * 100, "F1")}/{EvalSupport.F(c.RougeL!.Value * 100, "F1")}"
        : "";

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
