using System.CommandLine;
using System.Globalization;
using Elongate.Experiments;
using Elongate.Training;

namespace Elongate.Cli.Commands;

/// <summary>`elongate experiment input-loss`: the paper's instruction-tuning loss ablation (see <see cref="InputLossExperiment"/>).</summary>
internal static class InputLossCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Output folder (report.md, results.json, PNGs, data/, qa/, runs/, eval/, prompts/; those subfolders are replaced)", DefaultValueFactory = _ => "input-loss" };
        var model = new Option<string?>("--model", "-m") { Description = "An extended model to tune (GGUF, safetensors folder, or a run folder); default: pretrain and extend one here" };
        var corpus = new Option<string?>("--corpus") { Description = "Folder of .txt books: pretraining text and the QA documents' sentences; default: the built-in synthetic corpus" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer for --corpus when the base is trained here; without it a BPE vocabulary is learned" };
        var evalCorpus = new Option<string?>("--eval-corpus") { Description = "Held-out documents (folder of .txt/.jsonl, or .jsonl) whose sentences make the held-out QA; default: the documents split off --corpus" };
        var valDocs = new Option<string?>("--val-docs") { Description = "Comma-separated corpus file names held out (default: the last two in name order)" };
        var quick = new Option<bool>("--quick") { Description = "A small run (a few minutes): 40 + 10 base steps, 120 training documents, 24 held out, 2 epochs" };
        var smoke = new Option<bool>("--smoke") { Description = "Smaller still than --quick (for tests): seconds", Hidden = true };
        var seqLen = new Option<int?>("--seq-len") { Description = "Pretraining length of the base trained here (default 32); it is extended 8× and tuned and evaluated there" };
        var baseSteps = new Option<int?>("--base-steps") { Description = "Pretraining steps (default 150)" };
        var extendSteps = new Option<int?>("--extend-steps") { Description = "Extension steps at 8× the length (default 40)" };
        var trainDocs = new Option<int?>("--train-docs") { Description = "Documents self-instruct writes training questions from (default 400)" };
        var testDocs = new Option<int?>("--test-docs") { Description = "Held-out questions (default 60)" };
        var epochs = new Option<int?>("--epochs") { Description = "Instruction-tuning epochs (default 3)" };
        var lr = new Option<float?>("--lr") { Description = "Instruction-tuning peak learning rate (default 2e-3)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of the data, keys, pretraining and tuning order (default 1)" };
        var logEvery = new Option<int>("--log-every") { Description = "Training log line every N steps when output is redirected", DefaultValueFactory = _ => 10 };
        var cmd = new Command("input-loss",
            "Instruction-tune one extended model twice on self-instruct long QA (a rule-based teacher over documents with planted facts) — loss on the answers, "
            + "and loss on the answers and the input — and score both on held-out long QA with the long-task harness: token F1 and the value named, with 95% bootstrap intervals and "
            + "the paired-bootstrap difference. Writes report.md and results.json (≈12 min on 2 cores; --quick a few minutes).")
        { output, model, corpus, tokenizer, evalCorpus, valDocs, quick, smoke, seqLen, baseSteps, extendSteps, trainDocs, testDocs, epochs, lr, seed, logEvery };
        cmd.SetAction(parse => CliErrors.Run(parse, "experiment input-loss", (stdout, stderr) =>
        {
            var outDir = parse.GetValue(output)!;
            var o = parse.GetValue(smoke) ? Smoke(outDir) : parse.GetValue(quick) ? InputLossOptions.Quick(outDir) : new InputLossOptions { OutputDirectory = outDir };
            o = o with
            {
                ModelPath = parse.GetValue(model), CorpusDirectory = parse.GetValue(corpus), TokenizerPath = parse.GetValue(tokenizer), EvalCorpusPath = parse.GetValue(evalCorpus),
                ValidationDocuments = parse.GetValue(valDocs) is { } v ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null,
                ShortLength = parse.GetValue(seqLen) ?? o.ShortLength, BaseSteps = parse.GetValue(baseSteps) ?? o.BaseSteps, ExtendSteps = parse.GetValue(extendSteps) ?? o.ExtendSteps,
                TrainDocuments = parse.GetValue(trainDocs) ?? o.TrainDocuments, TestDocuments = parse.GetValue(testDocs) ?? o.TestDocuments,
                Epochs = parse.GetValue(epochs) ?? o.Epochs, FineTuneLearningRate = parse.GetValue(lr) ?? o.FineTuneLearningRate, Seed = parse.GetValue(seed) ?? o.Seed,
            };
            if (o.TokenizerPath is not null && o.CorpusDirectory is null) throw new ArgumentException("--tokenizer is only used with --corpus (the synthetic corpus builds its own)");
            if (o.ModelPath is not null && (parse.GetValue(tokenizer) is not null || parse.GetValue(baseSteps) is not null || parse.GetValue(extendSteps) is not null || parse.GetValue(seqLen) is not null))
                throw new ArgumentException("--tokenizer, --seq-len, --base-steps and --extend-steps shape the base trained here; --model gives one instead");
            int every = parse.GetValue(logEvery);
            var result = InputLossExperiment.Run(o, line => { stdout.WriteLine(line); stdout.Flush(); }, (loop, run) =>
            {
                if (TrainingRunner.RunLoop(loop, stdout, every, [$"training {loop.RunDirectory}: {loop.TotalSteps} steps"], ct => { run(ct); return []; }) == 130)
                    throw new OperationCanceledException("interrupted");
            });
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {Path.Combine(o.OutputDirectory, InputLossExperiment.ReportFileName)} and {Path.Combine(o.OutputDirectory, InputLossExperiment.ResultsFileName)} in {result.TotalSeconds:F0} s"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>The CI smoke setting: every phase runs, on the smallest inputs that still exercise it.</summary>
    private static InputLossOptions Smoke(string outDir) => InputLossOptions.Quick(outDir) with
    {
        ShortLength = 64, TokensPerStep = 512, BaseSteps = 4, ExtendSteps = 2, TrainDocuments = 24, TestDocuments = 6, Epochs = 1, FineTuneTokensPerStep = 512,
        PairsPerDocument = 8, ChunkTokens = 48, SyntheticTrainDocuments = 6, SyntheticValidationDocuments = 2, SyntheticWords = 600, VocabSize = 300,
    };
}
