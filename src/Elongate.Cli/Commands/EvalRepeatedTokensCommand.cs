using System.CommandLine;
using System.Globalization;
using Elongate.Evaluation;

namespace Elongate.Cli.Commands;

/// <summary>`elongate eval repeated-tokens`: the induction test (random tokens, then the same again) over a grid of lengths; results.json, a table and repeated_tokens.png.</summary>
internal static class EvalRepeatedTokensCommand
{
    private const string Help = """
        Window (Olsson et al. 2022): BOS, n = (L - 1) / 2 token ids drawn uniformly from the vocabulary's normal pieces,
        then the same n ids again. The second copy can only be predicted by copying from n tokens back. Score: the share
        of the second copy's tokens (all but its first) that the model's argmax predicts, teacher forced in one pass;
        chance is 1 / the number of normal pieces. Each trial also gives the mean loss on the first copy (no copying
        possible) and on the second. No prompt wording, so a short window is all distance.
        """;

    public static Command Create()
    {
        var support = new EvalSupport("repeated-tokens", "256,512,1024");
        var trials = new Option<int>("--trials", "-n") { Description = "Random sequences per length", DefaultValueFactory = _ => 4 };
        var seed = new Option<int>("--seed") { Description = "Seed of the sequences", DefaultValueFactory = _ => 1 };
        var cmd = new Command("repeated-tokens", "Induction test: copy accuracy on a repeated random token sequence over lengths\n\n" + Help) { trials, seed };
        support.AddTo(cmd, withContext: false);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval repeated-tokens", (stdout, stderr) =>
        {
            var options = new RepeatedTokensOptions { Lengths = support.ParseLengths(parse), Trials = parse.GetValue(trials), Seed = parse.GetValue(seed) };
            options.Validate();
            var (model, tokenizer, overridden) = support.Load(parse);
            var (jsonPath, pngPath) = support.OutputPaths(parse, "repeated_tokens.png");
            var report = RepeatedTokensEvaluation.Evaluate(model, tokenizer, options, EvalSupport.Progress(stderr));
            EvalJson.Write(jsonPath, support.Run("repeated-tokens", parse, model, overridden, "random tokens", report));
            EvalPlots.WriteScoreByLength(pngPath, report, $"Repeated random tokens: {Path.GetFileName(model.Source.TrimEnd('/'))}", "copy accuracy");
            var t = EvalSupport.Table("repeated random tokens (copy accuracy)", "length", "copy from", "accuracy", "trial 0 loss first → second");
            foreach (var cell in report.Cells)
                EvalSupport.AddRow(t, cell.Length.ToString(CultureInfo.InvariantCulture), ((cell.Length - 1) / 2).ToString(CultureInfo.InvariantCulture),
                    EvalSupport.F(cell.Score), EvalSupport.Clip(cell.Trials[0].Generated.Split(':')[0]));
            EvalSupport.Console(stdout).Write(t);
            stdout.WriteLine($"wrote {jsonPath} and {pngPath}");
            return 0;
        }));
        return cmd;
    }
}
