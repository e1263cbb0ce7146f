using System.CommandLine;
using Elongate.Evaluation;

namespace Elongate.Cli.Commands;

/// <summary>`elongate eval needle`: needle in a haystack of real text over lengths × depths; results.json, a table and needle.png.</summary>
internal static class EvalNeedleCommand
{
    private const string Help = """
        Haystack: documents of --haystack (trial t starts at document t mod D and continues into the next ones),
        truncated token-wise so the whole prompt fits the length. The needle is inserted at the sentence boundary
        (after '.', '!' or '?' followed by whitespace, or the start / end) nearest to depth x the haystack's length.
        Prompt (exact): BOS, "{haystack with needle}\n\nQuestion: {question}\nAnswer:". Greedy generation (default
        budget max(16, 2 x the answer's tokens)). Score, no judge model: both answer and generation are normalized as
        SQuAD does (lower-case, ASCII punctuation deleted, the words a/an/the dropped, split on whitespace); the score
        is the fraction of the expected answer's words (with repetition) found among the generated words.
        """;

    public static Command Create()
    {
        var support = new EvalSupport("needle", "256,512,1024");
        var haystack = new Option<string>("--haystack", "-d") { Description = "Haystack documents: a .txt file, a folder of .txt/.jsonl, a .jsonl (\"text\" field), or a token shard", Required = true };
        var depths = new Option<string>("--depths") { Description = "Comma-separated needle depths in [0, 1]", DefaultValueFactory = _ => "0,0.25,0.5,0.75,1" };
        var trials = new Option<int>("--trials", "-n") { Description = "Haystacks per cell", DefaultValueFactory = _ => 1 };
        var needle = new Option<string>("--needle") { Description = "The sentence hidden in the haystack", DefaultValueFactory = _ => NeedleOptions.DefaultNeedle };
        var question = new Option<string>("--question") { Description = "The question asked after the haystack", DefaultValueFactory = _ => NeedleOptions.DefaultQuestion };
        var answer = new Option<string>("--answer") { Description = "The expected answer (scored by normalized word match)", DefaultValueFactory = _ => NeedleOptions.DefaultAnswer };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Greedy tokens generated (0 = max(16, 2 × answer tokens))", DefaultValueFactory = _ => 0 };
        var cmd = new Command("needle", "Needle in a haystack over real text: normalized match over lengths × depths\n\n" + Help) { haystack, depths, trials, needle, question, answer, maxNew };
        support.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval needle", (stdout, stderr) =>
        {
            var options = new NeedleOptions
            {
                Lengths = support.ParseLengths(parse),
                Depths = EvalSupport.ParseDepths(parse.GetValue(depths)!),
                Trials = parse.GetValue(trials),
                Needle = parse.GetValue(needle)!,
                Question = parse.GetValue(question)!,
                Answer = parse.GetValue(answer)!,
                MaxNewTokens = parse.GetValue(maxNew),
                ContextLength = parse.GetValue(support.Context),
            };
            options.Validate();
            var (model, tokenizer, overridden) = support.Load(parse);
            var (jsonPath, pngPath) = support.OutputPaths(parse, "needle.png");
            using var corpus = EvalCorpus.Open(parse.GetValue(haystack)!);
            var report = NeedleEvaluation.Evaluate(model, tokenizer, corpus, options, EvalSupport.Progress(stderr));
            EvalJson.Write(jsonPath, support.Run("needle", parse, model, overridden, corpus.Source, report));
            EvalPlots.WriteHeatmap(pngPath, report, $"Needle in a haystack, normalized match: {Path.GetFileName(model.Source.TrimEnd('/'))}");
            EvalSupport.Console(stdout).Write(EvalSupport.Grid(report, "needle: normalized match"));
            stdout.WriteLine($"wrote {jsonPath} and {pngPath}");
            return 0;
        }));
        return cmd;
    }
}
