using System.CommandLine;
using System.Globalization;
using Elongate.Experiments;

namespace Elongate.Cli.Commands;

/// <summary>`elongate experiment rope-ablation`: the paper's positional-encoding ablation end to end (see <see cref="RopeAblation"/>).</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var cmd = new Command("experiment", "End-to-end experiments that reproduce the paper's findings in miniature");
        cmd.Subcommands.Add(RopeAblationCommand());
        cmd.Subcommands.Add(CurriculumCommand.Create());
        cmd.Subcommands.Add(InputLossCommand.Create());
        return cmd;
    }

    private static Command RopeAblationCommand()
    {
        var output = new Option<string>("--out", "-o") { Description = "Output folder (report.md, results.json, PNGs, runs/, data/; its runs/ and data/ are replaced)", DefaultValueFactory = _ => "rope-ablation" };
        var corpus = new Option<string?>("--corpus") { Description = "Folder of .txt books to use instead of the built-in synthetic corpus" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer for --corpus (tokenizer.model, tokenizer.bin or GGUF); without it a BPE vocabulary of --vocab-size pieces is learned from the training books" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = "Pieces of the learned tokenizer (synthetic corpus, or --corpus without --tokenizer; default 512)" };
        var shuffleChunk = new Option<int?>("--shuffle-chunk") { Description = "Shuffle training documents in chunks of this many tokens, 0 for whole documents (default 4096: a few long books otherwise arrive one at a time)" };
        var valDocs = new Option<string?>("--val-docs") { Description = "Comma-separated corpus file names held out for evaluation (default: the last two in name order)" };
        var quick = new Option<bool>("--quick") { Description = "A tiny run (a few minutes): T=128 → 1,024, 60 + 15 steps, 2 seeds, a tiny evaluation grid" };
        var smoke = new Option<bool>("--smoke") { Description = "Smaller still than --quick (for tests): a few seconds", Hidden = true };
        var preset = new Option<string?>("--preset") { Description = "Model size preset (1m, 5m, 20m, 100m; default 1m)" };
        var heads = new Option<int?>("--heads") { Description = "Attention heads at the preset's width instead of its own (1m: 4 of 32); the scaled RoPE base follows the new head size" };
        var seqLen = new Option<int?>("--seq-len") { Description = "Base (pretraining) context; extensions train at --extend-factor × it (default 256, --quick 128)" };
        var tps = new Option<int?>("--tokens-per-step") { Description = "Tokens per optimizer step for both stages (default 4096, --quick 2048)" };
        var baseSteps = new Option<int?>("--base-steps") { Description = "Pretraining steps (default 1000, --quick 60)" };
        var extendSteps = new Option<int?>("--extend-steps") { Description = "Continual-pretraining steps per variant (default 125, --quick 15)" };
        var baseLr = new Option<float?>("--base-lr") { Description = "Peak learning rate of pretraining (default 2e-3)" };
        var extendLr = new Option<float?>("--extend-lr") { Description = "Peak learning rate of each extension (default 5e-4)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of the data, the initialization and the probes (default 1)" };
        var variants = new Option<string?>("--variants") { Description = "Comma-separated subset of base,rope,pi,abf,xpos-abf (default: all)" };
        var theta = new Option<double?>("--theta") { Description = "RoPE base of the base model (default: scaled so the longest wavelength keeps Llama 2's multiple of the trained length, 823 for head dim 32 at 256 tokens; 10000 is the unscaled setting)" };
        var abfFactor = new Option<double?>("--abf-factor") { Description = "ABF multiplies the base by this (default 50, the paper's 10,000 → 500,000)" };
        var extendFactor = new Option<int?>("--extend-factor") { Description = "Extended length ÷ base length; PI interpolates by it (default 8, the paper's 4,096 → 32,768)" };
        var retrievalMix = new Option<double?>("--retrieval-mix") { Description = "Share of training tokens from synthetic retrieval documents (passkeys, key→value lookups, repeated passages, first-sentence questions), both stages; 0 turns it off (default 0.5)" };
        var retrievalLoss = new Option<string?>("--retrieval-loss") { Description = "Loss on the retrieval documents' answers only (answers, the default: the filler otherwise drowns the answer's signal and no small model learns to copy) or on every token (all)" };
        retrievalLoss.AcceptOnlyFromAmong("answers", "all");
        var retrievalLengths = new Option<string?>("--extend-retrieval-lengths") { Description = "How the extension stage's retrieval document lengths are drawn between a quarter of the base length and the extended length: log-uniform (the default: every doubling of distance equally often, so the distances the base bridges keep their share), or uniform (the earlier reports' setting, under which every extension forgot the base's retrieval)" };
        retrievalLengths.AcceptOnlyFromAmong("uniform", "log-uniform");
        var baseRetrievalLengths = new Option<string?>("--base-retrieval-lengths") { Description = "How the base stage's retrieval document lengths are drawn: uniform from a quarter of the base length to all of it (the default), or full (every document the whole base length, so facts sit at every distance equally often and first-sentence questions span the window)" };
        baseRetrievalLengths.AcceptOnlyFromAmong("uniform", "full");
        var retrievalKinds = new Option<string?>("--retrieval-kinds") { Description = "Relative shares of the retrieval document kinds, e.g. passkey=0.35,key-value=0.25,repeated-passage=0.1,first-sentence=0.3 (kinds: passkey, key-value, repeated-passage, first-sentence, copy-list, random-pieces; one left out gets 0; default passkey=0.5,key-value=0.35,repeated-passage=0.075,first-sentence=0.075)" };
        var evalCorpus = new Option<string?>("--eval-corpus") { Description = "Folder of held-out .txt/.jsonl documents for every loss and retrieval probe (default: the corpus's held-out documents)" };
        var seeds = new Option<int?>("--seeds") { Description = "Extension runs per variant with different data-order seeds; the base is trained once (default 3, --quick 2)" };
        var passkeyTrials = new Option<int?>("--passkey-trials") { Description = "Passkeys per length and depth (default 3, --quick 1)" };
        var firstTrials = new Option<int?>("--first-sentence-trials") { Description = "First-sentence passages per length (default 3, --quick 1)" };
        var logEvery = new Option<int>("--log-every") { Description = "Training log line every N steps when output is redirected", DefaultValueFactory = _ => 10 };
        var cmd = new Command("rope-ablation",
            "Pretrain a small model at a short context L with a RoPE base scaled to Llama 2's ratios and a share of synthetic retrieval documents, continue training copies at 8L "
            + "with the same tokens — RoPE unchanged, Position Interpolation (factor 8), ABF (base ×50), xPos with ABF — over several data-order seeds, and evaluate them "
            + "and the base on held-out text: loss at 1×, 2×, 4× and 8× L with the power-law fit, passkey and first-sentence retrieval; the paper's claims are judged "
            + "against the spread over seeds. Writes report.md, results.json and PNGs. Runs with no arguments on a built-in synthetic corpus and tokenizer.")
        { output, corpus, tokenizer, vocabSize, shuffleChunk, valDocs, quick, smoke, preset, heads, seqLen, tps, baseSteps, extendSteps, baseLr, extendLr, seed, variants,
          theta, abfFactor, extendFactor, retrievalMix, retrievalLoss, retrievalLengths, baseRetrievalLengths, retrievalKinds, evalCorpus, seeds, passkeyTrials, firstTrials, logEvery };
        cmd.SetAction(parse => CliErrors.Run(parse, "experiment rope-ablation", (stdout, stderr) =>
        {
            var outDir = parse.GetValue(output)!;
            var o = parse.GetValue(smoke) ? Smoke(outDir) : parse.GetValue(quick) ? RopeAblationOptions.Quick(outDir) : new RopeAblationOptions { OutputDirectory = outDir };
            static IReadOnlyList<string> Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            o = o with
            {
                CorpusDirectory = parse.GetValue(corpus), TokenizerPath = parse.GetValue(tokenizer),
                ValidationDocuments = parse.GetValue(valDocs) is { } v ? Split(v) : null,
                Preset = parse.GetValue(preset) ?? o.Preset, Heads = parse.GetValue(heads) ?? o.Heads, SeqLen = parse.GetValue(seqLen) ?? o.SeqLen, TokensPerStep = parse.GetValue(tps) ?? o.TokensPerStep,
                BaseSteps = parse.GetValue(baseSteps) ?? o.BaseSteps, ExtendSteps = parse.GetValue(extendSteps) ?? o.ExtendSteps,
                BaseLearningRate = parse.GetValue(baseLr) ?? o.BaseLearningRate, ExtendLearningRate = parse.GetValue(extendLr) ?? o.ExtendLearningRate,
                VocabSize = parse.GetValue(vocabSize) ?? o.VocabSize, ShuffleChunkTokens = parse.GetValue(shuffleChunk) ?? o.ShuffleChunkTokens,
                Seed = parse.GetValue(seed) ?? o.Seed, Variants = parse.GetValue(variants) is { } vs ? Split(vs) : o.Variants,
                RopeTheta = parse.GetValue(theta) ?? o.RopeTheta, AbfFactor = parse.GetValue(abfFactor) ?? o.AbfFactor,
                ExtendFactor = parse.GetValue(extendFactor) ?? o.ExtendFactor, RetrievalMix = parse.GetValue(retrievalMix) ?? o.RetrievalMix, RetrievalAnswersOnly = (parse.GetValue(retrievalLoss) ?? "answers") == "answers",
                ExtendLogUniformLengths = parse.GetValue(retrievalLengths) is { } lengthsText ? lengthsText == "log-uniform" : o.ExtendLogUniformLengths,
                BaseFullLengthRetrieval = parse.GetValue(baseRetrievalLengths) is { } baseLengthsText ? baseLengthsText == "full" : o.BaseFullLengthRetrieval,
                RetrievalWeights = parse.GetValue(retrievalKinds) is { } kindsText ? Elongate.Data.RetrievalDocumentOptions.ParseWeights(kindsText) : o.RetrievalWeights,
                EvalCorpusDirectory = parse.GetValue(evalCorpus), Seeds = parse.GetValue(seeds) ?? o.Seeds,
                PasskeyTrials = parse.GetValue(passkeyTrials) ?? o.PasskeyTrials, FirstSentenceTrials = parse.GetValue(firstTrials) ?? o.FirstSentenceTrials,
            };
            if (o.TokenizerPath is not null && o.CorpusDirectory is null) throw new ArgumentException("--tokenizer is only used with --corpus (the synthetic corpus builds its own)");
            if (o.TokenizerPath is not null && parse.GetValue(vocabSize) is not null) throw new ArgumentException("--vocab-size sizes a learned tokenizer; it cannot change --tokenizer's");
            int every = parse.GetValue(logEvery);
            var result = RopeAblation.Run(o, line => { stdout.WriteLine(line); stdout.Flush(); }, trainer =>
            {
                if (TrainingRunner.Run(trainer, stdout, every) == 130) throw new OperationCanceledException("interrupted");
            });
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {Path.Combine(o.OutputDirectory, RopeAblation.ReportFileName)} and {Path.Combine(o.OutputDirectory, RopeAblation.ResultsFileName)} in {result.TotalSeconds:F0} s"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>The CI smoke setting: every phase runs, on the smallest inputs that still exercise it.</summary>
    private static RopeAblationOptions Smoke(string outDir) => RopeAblationOptions.Quick(outDir) with
    {
        SeqLen = 32, TokensPerStep = 256, BaseSteps = 4, ExtendSteps = 2, SyntheticTrainDocuments = 4, SyntheticValidationDocuments = 2,
        SyntheticWords = 400, VocabSize = 300, LossWindows = 2, Multiples = [1, 2, 4, 8], Seeds = 2,
    };
}
