using System.CommandLine;
using Elongate.Evaluation;

namespace Elongate.Cli.Commands;

/// <summary>`elongate eval passkey`: the landmark-attention passkey grid (lengths × depths × trials); results.json, a table and passkey.png.</summary>
internal static class EvalPasskeyCommand
{
    private const string Help = """
        Prompt (Landmark Attention, exact text): BOS, "There is an important info hidden inside a lot of irrelevant
        text. Find it and memorize them. I will quiz you about the important information there.", the filler "The grass
        is green. The sky is blue. The sun is yellow. Here we go. There and back again." repeated, the needle "The pass
        key is K. Remember it. K is the pass key." after round(depth x repeats) fillers, then "What is the pass key? The
        pass key is". The number of repeats is the largest whose tokenized prompt does not exceed the length (binary
        search with the tokenizer). Greedy decoding; a trial is correct when the first integer generated equals K.
        Keys are seeded and trial t uses the same key in every cell.
        """;

    public static Command Create()
    {
        var support = new EvalSupport("passkey", "256,512,1024");
        var depths = new Option<string>("--depths") { Description = "Comma-separated needle depths in [0, 1]", DefaultValueFactory = _ => "0,0.25,0.5,0.75,1" };
        var trials = new Option<int>("--trials", "-n") { Description = "Keys per cell", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "Seed of the keys", DefaultValueFactory = _ => 42 };
        var digits = new Option<int>("--key-digits") { Description = "Digits per key", DefaultValueFactory = _ => 5 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Greedy tokens after the question (0 = key digits + 5)", DefaultValueFactory = _ => 0 };
        var cmd = new Command("passkey", "Passkey retrieval accuracy over lengths × depths\n\n" + Help) { depths, trials, seed, digits, maxNew };
        support.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval passkey", (stdout, stderr) =>
        {
            var options = new PasskeyOptions
            {
                Lengths = support.ParseLengths(parse),
                Depths = EvalSupport.ParseDepths(parse.GetValue(depths)!),
                Trials = parse.GetValue(trials),
                Seed = parse.GetValue(seed),
                KeyDigits = parse.GetValue(digits),
                MaxNewTokens = parse.GetValue(maxNew),
                ContextLength = parse.GetValue(support.Context),
            };
            options.Validate();
            var (model, tokenizer, overridden) = support.Load(parse);
            var (jsonPath, pngPath) = support.OutputPaths(parse, "passkey.png");
            var report = PasskeyEvaluation.Evaluate(model, tokenizer, options, EvalSupport.Progress(stderr));
            EvalJson.Write(jsonPath, support.Run("passkey", parse, model, overridden, null, report));
            EvalPlots.WriteHeatmap(pngPath, report, $"Passkey retrieval accuracy: {Path.GetFileName(model.Source.TrimEnd('/'))} ({options.Trials} keys per cell)");
            EvalSupport.Console(stdout).Write(EvalSupport.Grid(report, "passkey accuracy"));
            stdout.WriteLine($"wrote {jsonPath} and {pngPath}");
            return 0;
        }));
        return cmd;
    }
}
