using System.CommandLine;
using System.Globalization;
using Elongate.Experiments;

namespace Elongate.Cli.Commands;

/// <summary>`elongate experiment curriculum`: the paper's training-curriculum ablation (see <see cref="CurriculumExperiment"/>).</summary>
internal static class CurriculumCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Output folder (report.md, results.json, PNGs, runs/, data/; its runs/ and data/ are replaced)", DefaultValueFactory = _ => "curriculum" };
        var corpus = new Option<string?>("--corpus") { Description = "Folder of .txt books to train on instead of the built-in synthetic corpus" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer for --corpus; without it a BPE vocabulary of --vocab-size pieces is learned from the training books" };
        var evalCorpus = new Option<string?>("--eval-corpus") { Description = "Held-out documents (folder of .txt/.jsonl, .jsonl or token shard) for every loss and retrieval probe; default: the documents split off --corpus" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = "Pieces of the learned tokenizer (default 512)" };
        var valDocs = new Option<string?>("--val-docs") { Description = "Comma-separated corpus file names held out from training (default: the last two in name order)" };
        var quick = new Option<bool>("--quick") { Description = "A tiny run (a few minutes): 64 → 512 tokens, 40 steps" };
        var smoke = new Option<bool>("--smoke") { Description = "Smaller still than --quick (for tests): seconds", Hidden = true };
        var preset = new Option<string?>("--preset") { Description = "Model size preset (1m, 5m, 20m, 100m; default 1m)" };
        var seqLen = new Option<int?>("--seq-len") { Description = "The short length (default 128, --quick 64); the long one is --length-factor times it" };
        var factor = new Option<int?>("--length-factor") { Description = "Long length ÷ short length (default 8, the paper's 32,768 / 4,096)" };
        var tps = new Option<int?>("--tokens-per-step") { Description = "Tokens per optimizer step at both lengths (default 4096)" };
        var steps = new Option<int?>("--steps") { Description = "Steps of every model: all train the same tokens (default 120, --quick 40)" };
        var lr = new Option<float?>("--lr") { Description = "Peak learning rate of the one warmup + cosine schedule (default 2e-3)" };
        var theta = new Option<float?>("--theta") { Description = "RoPE θ at the short length (default: the scaled base whose longest wavelength is the same multiple of --seq-len as Llama 2's of 4,096, ≈ 390 at 128; 10000 for the contrast)" };
        var retrieval = new Option<double?>("--retrieval-mix") { Description = "Share of training tokens from the synthetic retrieval mix (passkeys, lookups, repeated passages, first-sentence questions; default 0.2; 0 for none)" };
        var retrievalLoss = new Option<string?>("--retrieval-loss") { Description = "Loss on the retrieval documents' answers only (answers, the default: the filler otherwise drowns the answer's signal and no small model learns to copy) or on every token (all)" };
        retrievalLoss.AcceptOnlyFromAmong("answers", "all");
        var abf = new Option<float?>("--abf-factor") { Description = "θ at the long length = --theta × this (default 50, the paper's 500,000 / 10,000)" };
        var switches = new Option<string?>("--switches") { Description = "Comma-separated fractions of the steps trained short before switching (default 0.2,0.4,0.8)" };
        var seeds = new Option<string?>("--seeds") { Description = "Comma-separated seeds; every curriculum is trained once per seed (default 1; three give the spread)" };
        var logEvery = new Option<int>("--log-every") { Description = "Training log line every N steps when output is redirected", DefaultValueFactory = _ => 10 };
        var cmd = new Command("curriculum",
            "Train the same number of tokens (with a 20% retrieval mix) at the long length from scratch, and at the short length switching to the long one (ABF θ × 50) after 20%, 40% and 80% of them; "
            + "compare held-out long-context loss, passkey retrieval and training FLOPs (attention's quadratic term counted), and compute whether continual pretraining reaches "
            + "from-scratch quality at less compute. Writes report.md and results.json (≈30 min on 2 cores; --quick a few minutes).")
        { output, corpus, tokenizer, evalCorpus, vocabSize, valDocs, quick, smoke, preset, seqLen, factor, tps, steps, lr, theta, retrieval, retrievalLoss, abf, switches, seeds, logEvery };
        cmd.SetAction(parse => CliErrors.Run(parse, "experiment curriculum", (stdout, stderr) =>
        {
            var outDir = parse.GetValue(output)!;
            var o = parse.GetValue(smoke) ? Smoke(outDir) : parse.GetValue(quick) ? CurriculumOptions.Quick(outDir) : new CurriculumOptions { OutputDirectory = outDir };
            o = o with
            {
                CorpusDirectory = parse.GetValue(corpus), TokenizerPath = parse.GetValue(tokenizer), EvalCorpusPath = parse.GetValue(evalCorpus),
                ValidationDocuments = parse.GetValue(valDocs) is { } v ? Split(v) : null, VocabSize = parse.GetValue(vocabSize) ?? o.VocabSize,
                Preset = parse.GetValue(preset) ?? o.Preset, ShortLength = parse.GetValue(seqLen) ?? o.ShortLength, LengthFactor = parse.GetValue(factor) ?? o.LengthFactor,
                TokensPerStep = parse.GetValue(tps) ?? o.TokensPerStep, Steps = parse.GetValue(steps) ?? o.Steps, LearningRate = parse.GetValue(lr) ?? o.LearningRate,
                Theta = parse.GetValue(theta) ?? o.Theta, RetrievalShare = parse.GetValue(retrieval) ?? o.RetrievalShare, RetrievalAnswersOnly = (parse.GetValue(retrievalLoss) ?? "answers") == "answers", AbfFactor = parse.GetValue(abf) ?? o.AbfFactor,
                Switches = parse.GetValue(switches) is { } sw ? Split(sw).Select(x => Number(x, "--switches")).ToList() : o.Switches,
                Seeds = parse.GetValue(seeds) is { } sd ? Split(sd).Select(x => ulong.TryParse(x, CultureInfo.InvariantCulture, out var u) ? u : throw new ArgumentException($"--seeds: '{x}' is not a non-negative integer")).ToList() : o.Seeds,
            };
            if (o.TokenizerPath is not null && o.CorpusDirectory is null) throw new ArgumentException("--tokenizer is only used with --corpus (the synthetic corpus builds its own)");
            int every = parse.GetValue(logEvery);
            var result = CurriculumExperiment.Run(o, line => { stdout.WriteLine(line); stdout.Flush(); }, trainer =>
            {
                if (TrainingRunner.Run(trainer, stdout, every) == 130) throw new OperationCanceledException("interrupted");
            });
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {Path.Combine(o.OutputDirectory, CurriculumExperiment.ReportFileName)} and {Path.Combine(o.OutputDirectory, CurriculumExperiment.ResultsFileName)} in {result.TotalSeconds:F0} s"));
            return 0;
        }));
        return cmd;
    }

    private static IReadOnlyList<string> Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static double Number(string s, string option) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new ArgumentException($"{option}: '{s}' is not a number");

    /// <summary>The CI smoke setting: every phase runs, on the smallest inputs that still exercise it.</summary>
    private static CurriculumOptions Smoke(string outDir) => CurriculumOptions.Quick(outDir) with
    {
        ShortLength = 32, TokensPerStep = 512, Steps = 10, SyntheticTrainDocuments = 4, SyntheticValidationDocuments = 2, SyntheticWords = 400,
        VocabSize = 300, LossWindows = 2,
    };
}
