using System.CommandLine;
using System.Globalization;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Tokenization;
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
        return new Command("data", "Prepare training data") { prepare, Tokenizer(), ChatMix() };
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
