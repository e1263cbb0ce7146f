using System.CommandLine;
using System.Globalization;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Tokenization;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate data prepare --tokenizer T --input FILES... --out DIR [--val-fraction F | --val-docs NAMES] [--seed S]
/// [--min-doc-tokens N]`: tokenizes .txt (one document per file) and .jsonl (one document per line, "text" field)
/// into DIR/train.tokens and DIR/val.tokens, streaming, and reports the length distribution; `data tokenizer` learns a
/// vocabulary; `data chat-mix` combines instruction sets.
/// </summary>
public static class DataCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin, tokenizer.json (or its folder) or a GGUF whose vocabulary to use", Required = true };
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Input files: .txt (each file is one document, e.g. a book) or .jsonl (one document per line in a \"text\" field); a folder means its .txt and .jsonl files",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "Output folder (train.tokens, val.tokens, report.json, tokenizer copy)", Required = true };
        var fraction = new Option<double>("--val-fraction") { Description = "Share of documents held out for validation, chosen by a seeded hash of each document's name", DefaultValueFactory = _ => 0.1 };
        var valDocs = new Option<string[]>("--val-docs")
        {
            Description = "Hold out exactly these documents instead: a .txt file's name (e.g. dracula.txt), a whole .jsonl file's name, or file.jsonl:ID / file.jsonl:LINE",
            AllowMultipleArgumentsPerToken = true,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the hashed validation split", DefaultValueFactory = _ => 1UL };
        var minTokens = new Option<int>("--min-doc-tokens") { Description = "Skip documents with fewer tokens (BOS and EOS included)", DefaultValueFactory = _ => 0 };
        var prepare = new Command("prepare", "Tokenize text files into training and validation shards") { tokenizer, input, output, fraction, valDocs, seed, minTokens };
        prepare.SetAction(parse => CliErrors.Run(parse, "data prepare", (stdout, _) =>
        {
            var options = new CorpusPrepareOptions
            {
                TokenizerPath = parse.GetValue(tokenizer)!, Inputs = parse.GetValue(input) ?? [], OutputDirectory = parse.GetValue(output)!,
                ValidationFraction = parse.GetValue(fraction), ValidationDocuments = parse.GetValue(valDocs), Seed = parse.GetValue(seed),
                MinDocumentTokens = parse.GetValue(minTokens),
            };
            var console = ConsoleUi.Create(stdout);
            CorpusReport report;
            if (ConsoleUi.IsInteractive(stdout))
            {
                report = console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                        new TransferSpeedColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        ProgressTask? task = null;
                        return CorpusPreparer.Prepare(options, p =>
                        {
                            task ??= ctx.AddTask("tokenizing", maxValue: Math.Max(1, p.TotalBytes));
                            task.Description = $"file {p.FileIndex + 1}/{p.FileCount} {Markup.Escape(Path.GetFileName(p.File))}";
                            task.Value = p.BytesRead;
                        });
                    });
            }
            else
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                report = CorpusPreparer.Prepare(options, p =>
                {
                    if (!p.FileDone || p.Stats is not { } s) return;
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"file {p.FileIndex + 1}/{p.FileCount} {Path.GetFileName(p.File)}: {s.Documents} documents, {s.Tokens} tokens ({p.BytesRead / 1e6:F1}/{p.TotalBytes / 1e6:F1} MB, {p.BytesRead / 1e6 / Math.Max(1e-9, watch.Elapsed.TotalSeconds):F2} MB/s)"));
                    stdout.Flush();
                });
            }
            Print(console, report);
            stdout.WriteLine($"wrote {Path.Combine(Path.GetFullPath(options.OutputDirectory), CorpusPreparer.TrainFile)}, {CorpusPreparer.ValidationFile}, {CorpusReport.FileName}");
            return 0;
        }));
        return new Command("data", "Prepare training data") { prepare, Tokenizer(), ChatMix(), SelfInstruct() };
    }

    /// <summary>`elongate data tokenizer --input FILES... --out tokenizer.bin [--vocab-size N] [--exclude NAMES]`.</summary>
    private static Command Tokenizer()
    {
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Text to learn from: .txt or .jsonl files, or folders of them (documents read as `data prepare` reads them)",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "Where to write the vocabulary (llama2.c tokenizer.bin format; every command reads it)", Required = true };
        var size = new Option<int>("--vocab-size") { Description = "Pieces in the vocabulary: 3 special + 256 byte-fallback pieces + characters + learned merges", DefaultValueFactory = _ => 4096 };
        var exclude = new Option<string[]>("--exclude")
        {
            Description = "Documents to leave out (e.g. the ones you will pass to data prepare --val-docs): a .txt or .jsonl file's name, or file.jsonl:ID / file.jsonl:LINE",
            AllowMultipleArgumentsPerToken = true,
        };
        var cmd = new Command("tokenizer",
            "Learn a byte-fallback BPE vocabulary (SentencePiece-style, merges scored in learned order) from your own text. A vocabulary fitted to the corpus "
            + "packs more text into each token than a borrowed one: a small model then sees more text per step, and its samples are made of whole words.")
        { input, output, size, exclude };
        cmd.SetAction(parse => CliErrors.Run(parse, "data tokenizer", (stdout, _) =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var inputs = parse.GetValue(input) ?? [];
            var outPath = parse.GetValue(output)!;
            int lastReported = 0;
            var vocab = CorpusPreparer.LearnTokenizer(inputs, parse.GetValue(exclude), parse.GetValue(size), outPath, (done, total) =>
            {
                if (done - lastReported < Math.Max(1, total / 10) && done != total) return;
                lastReported = done;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"merges {done}/{total} ({watch.Elapsed.TotalSeconds:F1} s)"));
                stdout.Flush();
            });
            int merges = vocab.Scores.Count(s => s < 0);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {Path.GetFullPath(outPath)}: {vocab.Count} pieces ({merges} merges, {vocab.Count - 259 - merges} characters, 256 bytes, 3 special) in {watch.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// `elongate data chat-mix --source FILE[:WEIGHT]... --out FILE.jsonl [--seed S] [--total N] [--tokenizer T
    /// [--chat-template NAME]]`: <see cref="ChatMixer"/> does the work; this parses, prints and names the files.
    /// </summary>
    private static Command ChatMix()
    {
        var source = new Option<string[]>("--source", "-s")
        {
            Description = "An instruction set (JSON Lines: chat \"messages\", ShareGPT \"conversations\", Alpaca \"instruction\"/\"output\", or \"prompt\"/\"completion\"), "
                + "optionally with its weight, FILE:WEIGHT, its share of the output relative to the other weights (weight all sources or none; none = each weighs its size)",
            Required = true, AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "The mixed set, chat-format JSON Lines; its report goes beside it as FILE.report.json", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampling and of the order", DefaultValueFactory = _ => 1UL };
        var total = new Option<int?>("--total") { Description = "Examples to write (default: as many as the sources hold together); a source asked for more than it has repeats its examples evenly" };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Measure token lengths with this tokenizer (tokenizer.model, tokenizer.bin or a GGUF), examples rendered with its chat template" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template name for the lengths, overriding the tokenizer's (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var cmd = new Command("chat-mix", "Combine instruction sets by weight into one chat-format fine-tuning set, with a report of counts and token lengths")
        { source, output, seed, total, tokenizer, chatTemplate };
        cmd.SetAction(parse => CliErrors.Run(parse, "data chat-mix", (stdout, _) =>
        {
            ITokenizer? tok = null;
            ChatTemplate? template = null;
            var tokPath = parse.GetValue(tokenizer);
            if (tokPath is not null)
            {
                tok = TokenizerLoader.Load(tokPath);
                template = ChatTemplate.Resolve(parse.GetValue(chatTemplate), tok.Vocabulary.ChatTemplate, tokPath);
            }
            else if (parse.GetValue(chatTemplate) is not null)
                throw new ArgumentException("--chat-template only matters with --tokenizer (it renders examples to measure their tokens)");
            var report = ChatMixer.Mix(new ChatMixOptions
            {
                Sources = [.. (parse.GetValue(source) ?? []).Select(ChatMixSource.Parse)], OutputPath = parse.GetValue(output)!,
                Seed = parse.GetValue(seed), Total = parse.GetValue(total), Tokenizer = tok, TokenizerPath = tokPath, Template = template,
            });
            Print(ConsoleUi.Create(stdout), report);
            stdout.WriteLine($"wrote {report.Output} ({report.Examples} examples), {ChatMixer.ReportPathFor(report.Output)}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// `elongate data self-instruct --docs … --out qa.jsonl (-m MODEL | --endpoint URL …) [-z T] …`: <see cref="SelfInstructor"/>
    /// does the work; this builds the teacher (a local model or an OpenAI-compatible endpoint), shows progress and prints the report.
    /// </summary>
    private static Command SelfInstruct()
    {
        var docs = new Option<string[]>("--docs") { Description = "Documents: .txt files (one document each) or folders of them", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out", "-o") { Description = "Chat-format JSON Lines to append kept examples to (rejected items go to OUT.rejected.jsonl; rerunning resumes)", Required = true };
        var model = new Option<string?>("--model", "-m") { Description = "A local teacher model file (or give --endpoint)" };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "The student's tokenizer, for chunking and lengths (default: the local teacher's vocabulary)" };
        var chunk = new Option<int>("--chunk-tokens") { Description = "Tokens per chunk shown to the teacher", DefaultValueFactory = _ => 512 };
        var pairs = new Option<int>("--pairs-per-doc") { Description = "Chunks drawn per document (each gives one pair per answer kind)", DefaultValueFactory = _ => 1 };
        var maxContext = new Option<int>("--max-context") { Description = "Tokens of a whole training example; the document is cut to fit, keeping the evidence chunk", DefaultValueFactory = _ => 16384 };
        var answers = new Option<string>("--answers") { Description = "Kinds of answer: short, long or short,long", DefaultValueFactory = _ => "short,long" };
        var concurrency = new Option<int>("--concurrency") { Description = "Teacher requests in flight at once", DefaultValueFactory = _ => 4 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of chunk positions, truncation and sampling", DefaultValueFactory = _ => 1UL };
        var prompts = new Option<string?>("--prompts") { Description = $"Folder whose {SelfInstructPrompts.ShortFile}, {SelfInstructPrompts.LongFile}, {SelfInstructPrompts.CheckFile} replace the default prompts" };
        var exclude = new Option<string[]>("--exclude") { Description = "Documents never to use (file names or paths), e.g. evaluation sets", AllowMultipleArgumentsPerToken = true };
        var retries = new Option<int>("--retries") { Description = "Retries of a teacher request after 429, 5xx, a timeout or a connection error (exponential backoff from 1 s)", DefaultValueFactory = _ => 4 };
        var jsonMode = new Option<bool>("--json-mode") { Description = "Ask the endpoint for JSON output (response_format json_object) when it supports it" };
        var contamination = new Option<string?>("--contamination-check") { Description = "Folder of evaluation inputs (.txt, .json, .jsonl, e.g. L-Eval or QuALITY): warn about documents sharing 13-word sequences with them" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template of a local teacher, overriding the model's (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var maxShort = new Option<int>("--max-short-answer-tokens")
        {
            Description = "Longest short answer kept, in student tokens (longer ones are rejected as \"length\")", DefaultValueFactory = _ => SelfInstructOptions.DefaultMaxShortAnswerTokens,
        };
        var maxLong = new Option<int>("--max-long-answer-tokens")
        {
            Description = "Longest long answer kept, in student tokens (longer ones are rejected as \"length\")", DefaultValueFactory = _ => SelfInstructOptions.DefaultMaxLongAnswerTokens,
        };
        var nearDup = new Option<double>("--near-duplicate-threshold")
        {
            Description = "Reject a question whose word 3-gram Jaccard similarity to a kept one reaches this (0–1]; exact repeats are always rejected",
            DefaultValueFactory = _ => QuestionDeduplicator.DefaultThreshold,
        };
        var endpoint = new EndpointOptions();
        var run = new ModelOptions();
        var cmd = new Command("self-instruct",
            "Make long-context QA training data: a teacher model writes question–answer pairs about random chunks of your documents, checks them, "
            + "and each kept pair becomes a chat example whose context is the whole document (cut to --max-context, evidence kept)")
        {
            docs, output, model, tokenizer, chunk, pairs, maxContext, answers, concurrency, seed, prompts, exclude, retries, jsonMode, contamination, chatTemplate,
            maxShort, maxLong, nearDup,
        };
        endpoint.AddTo(cmd);
        run.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "data self-instruct", (stdout, stderr) =>
        {
            var kinds = (parse.GetValue(answers) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(k => k.ToLowerInvariant() switch
                {
                    "short" => SelfInstructKind.Short,
                    "long" => SelfInstructKind.Long,
                    _ => throw new ArgumentException($"--answers: '{k}' is not short or long"),
                }).Distinct().ToList();
            IChatClient teacher;
            ITokenizer student;
            Model.LlamaModel? local = null;
            if (endpoint.IsRemote(parse))
            {
                if (parse.GetValue(model) is not null) throw new ArgumentException("give either --model or --endpoint, not both");
                if (parse.GetValue(chatTemplate) is not null) throw new ArgumentException("--chat-template applies to a local --model; the server applies its own");
                var tokPath = parse.GetValue(tokenizer) ?? throw new ArgumentException("--endpoint needs -z/--tokenizer: the student's tokenizer measures chunks and lengths");
                student = TokenizerLoader.Load(tokPath);
                (teacher, _) = endpoint.Create(parse);
            }
            else
            {
                var path = parse.GetValue(model) ?? throw new ArgumentException("give --model (a local teacher) or --endpoint (a model server)");
                local = run.Load(parse, path);
                var teacherTok = GenerateCommand.LoadTokenizer(null, local);
                student = parse.GetValue(tokenizer) is { } tokPath ? TokenizerLoader.Load(tokPath) : teacherTok;
                var templateName = parse.GetValue(chatTemplate);
                var host = new Serving.ModelHost(local, teacherTok, new Serving.ModelHostOptions
                {
                    Slots = Math.Max(1, parse.GetValue(concurrency)), Template = string.IsNullOrEmpty(templateName) ? null : ChatTemplate.FromName(templateName),
                });
                if (host.Template is null)
                {
                    host.Dispose();
                    throw new ArgumentException($"{path} has no chat template Elongate recognises: give --chat-template (one of: {string.Join(", ", ChatTemplate.Names)})");
                }
                teacher = new Serving.LocalChatClient(host, ownsHost: true);
            }
            using var localModel = local;
            using var teacherClient = teacher;
            var options = new SelfInstructOptions
            {
                Documents = parse.GetValue(docs) ?? [], OutputPath = parse.GetValue(output)!, Tokenizer = student, ChunkTokens = parse.GetValue(chunk),
                PairsPerDocument = parse.GetValue(pairs), MaxContext = parse.GetValue(maxContext), Kinds = kinds, Concurrency = parse.GetValue(concurrency),
                Seed = parse.GetValue(seed), Prompts = SelfInstructPrompts.Load(parse.GetValue(prompts)), Exclude = parse.GetValue(exclude) ?? [],
                Retries = parse.GetValue(retries), JsonMode = parse.GetValue(jsonMode), ContaminationDirectory = parse.GetValue(contamination),
                MaxShortAnswerTokens = parse.GetValue(maxShort), MaxLongAnswerTokens = parse.GetValue(maxLong), NearDuplicateThreshold = parse.GetValue(nearDup),
            };
            var console = ConsoleUi.Create(stdout);
            // Ctrl+C cancels the run instead of killing the process: what was decided stays, the partial report is written.
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
            Console.CancelKeyPress += onCancel;
            SelfInstructReport report;
            int rc = 0;
            try
            {
                report = RunSelfInstruct(options, teacher, stdout, console, cts.Token);
            }
            catch (SelfInstructInterruptedException e) when (e.Report is not null)
            {
                report = e.Report;
                rc = 130;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            foreach (var o in report.Contamination)
                stderr.WriteLine($"data self-instruct: warning: {o.Document} shares {o.SharedNGrams} {SelfInstructContamination.DefaultN}-word sequences with {o.Reference} (an evaluation input?)");
            foreach (var w in report.Warnings) stderr.WriteLine($"data self-instruct: warning: {w}");
            Print(console, report);
            stdout.WriteLine($"wrote {report.Output} ({report.KeptTotal} examples), {SelfInstructor.ReportPathFor(report.Output)}, {SelfInstructor.PlotPathFor(report.Output)}");
            if (rc == 130) stdout.WriteLine("interrupted: rerun the same command to resume (decided items are kept, the rest are asked again)");
            return rc;
        }));
        return cmd;
    }

    /// <summary>
    /// Runs <see cref="SelfInstructor"/> with a live progress bar (items decided, kept/rejected, teacher tokens/s, ETA)
    /// on a terminal, or a plain line every tenth of the items when stdout is redirected.
    /// </summary>
    private static SelfInstructReport RunSelfInstruct(SelfInstructOptions options, IChatClient teacher, TextWriter stdout, IAnsiConsole console, CancellationToken ct)
    {
        static string Eta(SelfInstructProgress p)
        {
            if (p.Done == 0) return "?";
            var left = TimeSpan.FromSeconds(p.Seconds / p.Done * (p.Total - p.Done));
            return left.ToString(left.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);
        }
        static string Line(SelfInstructProgress p) => string.Create(CultureInfo.InvariantCulture,
            $"items {p.Done}/{p.Total}: kept {p.Kept}, rejected {p.Rejected}, {p.TokensPerSecond:F1} teacher tokens/s, eta {Eta(p)}");
        if (ConsoleUi.IsInteractive(stdout))
        {
            return console.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("self-instruct: reading documents", maxValue: 1);
                    return SelfInstructor.RunAsync(options, teacher, p =>
                    {
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                        task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                            $"{p.Done}/{p.Total} kept {p.Kept} rejected {p.Rejected} {p.TokensPerSecond:F0} tok/s"));
                    }, ct).GetAwaiter().GetResult();
                });
        }
        int lastTenth = -1;
        return SelfInstructor.RunAsync(options, teacher, p =>
        {
            int tenth = p.Total == 0 ? 10 : p.Done * 10 / p.Total;
            if (tenth == lastTenth && p.Done != p.Total) return;
            lastTenth = tenth;
            stdout.WriteLine(Line(p));
            stdout.Flush();
        }, ct).GetAwaiter().GetResult();
    }

    private static void Print(IAnsiConsole console, SelfInstructReport r)
    {
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        var table = new Table().Title($"self-instruct{(r.Interrupted ? " (interrupted)" : "")}: {r.Documents} documents ({r.ShortDocuments} shorter than a chunk, {r.Excluded.Count} excluded), {r.Chunks} chunks");
        table.AddColumn("measure");
        table.AddColumn("value");
        table.AddRow("work items (resumed)", $"{I(r.WorkItems)} ({I(r.Resumed)})");
        table.AddRow("generated", I(r.Generated));
        foreach (var (reason, n) in r.Rejected) table.AddRow($"rejected: {Markup.Escape(reason)}", I(n));
        if (r.JsonModeFallbacks > 0) table.AddRow("asked again without JSON mode", I(r.JsonModeFallbacks));
        table.AddRow("kept (file total)", $"{I(r.Kept)} ({I(r.KeptTotal)})");
        table.AddRow("answers quoting nothing of the chunk", I(r.Unquoted));
        table.AddRow("answer tokens min/median/p90/max", $"{I(r.AnswerTokens.Min)}/{I(r.AnswerTokens.Median)}/{I(r.AnswerTokens.P90)}/{I(r.AnswerTokens.Max)}");
        table.AddRow("evidence position (10 bins)", string.Join(" ", r.EvidencePositionHistogram.Select(b => I(b))));
        console.Write(table);
    }

    private static void Print(IAnsiConsole console, ChatMixReport r)
    {
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        static string P(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
        bool tokens = r.Lengths is not null;
        var table = new Table().Title(tokens
            ? $"chat mix: {r.Examples} examples (token lengths with {Markup.Escape(Path.GetFileName(r.Tokenizer ?? ""))}, {Markup.Escape(r.ChatTemplate ?? "")} template)"
            : $"chat mix: {r.Examples} examples");
        foreach (var h in new[] { "source", "weight", "available", "selected", "distinct", "share" }) table.AddColumn(h);
        if (tokens) foreach (var h in new[] { "tokens", "median", "p90", "max" }) table.AddColumn(h);
        void Row(string name, string weight, string available, string selected, string distinct, string share, LengthReport? l)
        {
            var cells = new List<string> { name, weight, available, selected, distinct, share };
            if (tokens) cells.AddRange(l is null ? ["", "", "", ""] : [I(l.Tokens), I(l.Median), I(l.P90), I(l.Max)]);
            table.AddRow([.. cells.Select(c => Markup.Escape(c))]);
        }
        foreach (var s in r.Sources)
            Row(Path.GetFileName(s.File), s.Weight?.ToString("G4", CultureInfo.InvariantCulture) ?? "-", I(s.Available), I(s.Selected), I(s.Distinct),
                $"{P(s.Share)} (asked {P(s.TargetShare)})", s.Lengths);
        Row("total", "", I(r.Sources.Sum(s => (long)s.Available)), I(r.Examples), I(r.Sources.Sum(s => (long)s.Distinct)), "", r.Lengths);
        console.Write(table);
    }

    private static void Print(IAnsiConsole console, CorpusReport r)
    {
        var splits = new Table().Title("document lengths (tokens, BOS/EOS included)");
        foreach (var h in new[] { "split", "documents", "tokens", "min", "median", "p90", "p99", "max" }) splits.AddColumn(h);
        void Split(string name, LengthReport l) => splits.AddRow(name, l.Documents.ToString(CultureInfo.InvariantCulture), l.Tokens.ToString(CultureInfo.InvariantCulture),
            l.Min.ToString(CultureInfo.InvariantCulture), l.Median.ToString(CultureInfo.InvariantCulture), l.P90.ToString(CultureInfo.InvariantCulture),
            l.P99.ToString(CultureInfo.InvariantCulture), l.Max.ToString(CultureInfo.InvariantCulture));
        Split("train", r.Train);
        Split("validation", r.Validation);
        console.Write(splits);
        var files = new Table().Title($"sources (tokenizer {Markup.Escape(Path.GetFileName(r.Tokenizer))}, vocabulary {r.VocabSize})");
        foreach (var h in new[] { "file", "MB", "documents", "tokens", "train docs", "val docs", "skipped" }) files.AddColumn(h);
        foreach (var s in r.Sources)
            files.AddRow(Markup.Escape(Path.GetFileName(s.File)), (s.Bytes / 1e6).ToString("F2", CultureInfo.InvariantCulture), s.Documents.ToString(CultureInfo.InvariantCulture),
                s.Tokens.ToString(CultureInfo.InvariantCulture), s.TrainDocuments.ToString(CultureInfo.InvariantCulture),
                s.ValidationDocuments.ToString(CultureInfo.InvariantCulture), s.Skipped.ToString(CultureInfo.InvariantCulture));
        console.Write(files);
    }
}
