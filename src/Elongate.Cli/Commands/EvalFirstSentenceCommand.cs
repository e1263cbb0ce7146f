using System.CommandLine;
using System.Globalization;
using Elongate.Evaluation;

namespace Elongate.Cli.Commands;

/// <summary>`elongate eval first-sentence`: the paper's FIRST-SENTENCE-RETRIEVAL over a grid of lengths; results.json, a table and first_sentence.png.</summary>
internal static class EvalFirstSentenceCommand
{
    private const string Help = """
        Prompt (exact): BOS, a passage of --data truncated token-wise so the whole prompt fits the length, then
        "\n\nQuestion: What is the first sentence of the text above?\nAnswer:". The first sentence is the passage's
        text up to and including the first '.', '!' or '?' followed by whitespace (or the end of the text). Passages
        start at a document's first sentence of --min-words..--max-words words (later rounds: a seeded random such
        sentence in the document's first half) and continue into the next documents when short. Greedy generation
        of up to ceil(1.5 x the first sentence's tokens); score: ROUGE-L F against the first sentence.
        """;

    public static Command Create()
    {
        var support = new EvalSupport("first-sentence", "256,512,1024");
        var data = new Option<string>("--data", "-d") { Description = "Documents: a .txt file, a folder of .txt/.jsonl, a .jsonl (\"text\" field), or a token shard", Required = true };
        var trials = new Option<int>("--trials", "-n") { Description = "Passages per length", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "Seed of the passage starts", DefaultValueFactory = _ => 42 };
        var minWords = new Option<int>("--min-words") { Description = "Shortest usable first sentence, in words", DefaultValueFactory = _ => 5 };
        var maxWords = new Option<int>("--max-words") { Description = "Longest usable first sentence, in words", DefaultValueFactory = _ => 60 };
        var cmd = new Command("first-sentence", "FIRST-SENTENCE-RETRIEVAL: ROUGE-L of the recalled first sentence over lengths\n\n" + Help) { data, trials, seed, minWords, maxWords };
        support.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval first-sentence", (stdout, stderr) =>
        {
            var options = new FirstSentenceOptions
            {
                Lengths = support.ParseLengths(parse),
                Trials = parse.GetValue(trials),
                Seed = parse.GetValue(seed),
                MinWords = parse.GetValue(minWords),
                MaxWords = parse.GetValue(maxWords),
                ContextLength = parse.GetValue(support.Context),
            };
            options.Validate();
            var (model, tokenizer, overridden) = support.Load(parse);
            var (jsonPath, pngPath) = support.OutputPaths(parse, "first_sentence.png");
            using var corpus = EvalCorpus.Open(parse.GetValue(data)!);
            var report = FirstSentenceEvaluation.Evaluate(model, tokenizer, corpus, options, EvalSupport.Progress(stderr));
            EvalJson.Write(jsonPath, support.Run("first-sentence", parse, model, overridden, corpus.Source, report));
            EvalPlots.WriteScoreByLength(pngPath, report, $"First-sentence retrieval: {Path.GetFileName(model.Source.TrimEnd('/'))}", "mean ROUGE-L F");
            var t = EvalSupport.Table("first-sentence retrieval (ROUGE-L F)", "length", "mean ROUGE-L", "prompt tokens", "trial 0 generated");
            foreach (var cell in report.Cells)
                EvalSupport.AddRow(t, cell.Length.ToString(CultureInfo.InvariantCulture), EvalSupport.F(cell.Score), EvalSupport.F(cell.MeanPromptTokens, "F0"), EvalSupport.Clip(cell.Trials[0].Generated));
            var console = EvalSupport.Console(stdout);
            console.Write(t);
            stdout.WriteLine($"trial 0 first sentence: {EvalSupport.Clip(report.Cells[0].Trials[0].Expected, 120)}");
            stdout.WriteLine($"wrote {jsonPath} and {pngPath}");
            return 0;
        }));
        return cmd;
    }
}
