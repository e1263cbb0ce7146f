using System.CommandLine;
using System.Globalization;
using Elongate.Evaluation;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate eval loss`: language-modelling loss of held-out documents at each context length, loss by position,
/// perplexity, and the paper's power-law fit L(c) = (α/c)^β + γ; results.json, a table and loss.png.
/// </summary>
internal static class EvalLossCommand
{
    private const string Help = """
        Loss against context length on held-out documents (point --data at data the model was not trained on).
        Text documents are scored as training sees them: BOS, then the text. For each length L:
          non-overlapping mode (default, --stride 0): each document is cut into windows of L+1 tokens sharing one
            token; every target is scored, so the loss at position p is the loss with p tokens of context;
          strided sliding window (--stride S, 0 < S < L): the window advances by S tokens and only its last S targets
            are scored (every target of a document's first window), so each scored token has at least L-S tokens of
            context (the transformers perplexity recipe). A window that starts mid-document has no BOS, as in packed
            training. A stride >= L means non-overlapping windows at that length.
        The power law (alpha/c)^beta + gamma is fitted (Levenberg-Marquardt) twice: on the longest length's loss by
        position bucket (c = mean position in the bucket; the primary curve; needs >= 3 buckets) and on the mean loss
        of each length (c = L; needs >= 3 lengths). Both report alpha, beta, gamma, R^2 and RMSE, or why no fit.
        """;

    public static Command Create()
    {
        var support = new EvalSupport("loss", "64,128,256,512");
        var data = new Option<string>("--data", "-d") { Description = "Held-out documents: a .txt file, a folder of .txt/.jsonl, a .jsonl (\"text\" field), or a token shard", Required = true };
        var stride = new Option<int>("--stride") { Description = "Sliding-window stride (0 = non-overlapping windows)", DefaultValueFactory = _ => 0 };
        var maxWindows = new Option<int>("--max-windows") { Description = "Windows per length at most (0 = all the data)", DefaultValueFactory = _ => 0 };
        var buckets = new Option<int>("--buckets") { Description = "Position buckets per length (logarithmic edges)", DefaultValueFactory = _ => 8 };
        var cmd = new Command("loss", "Loss and perplexity against context length, with the power-law fit (α/c)^β + γ\n\n" + Help) { data, stride, maxWindows, buckets };
        support.AddTo(cmd, withContext: false);
        cmd.SetAction(parse => CliErrors.Run(parse, "eval loss", (stdout, stderr) =>
        {
            var lengths = support.ParseLengths(parse);
            int s = parse.GetValue(stride), w = parse.GetValue(maxWindows);
            if (s < 0) throw new ArgumentException("--stride must be ≥ 0");
            if (w < 0) throw new ArgumentException("--max-windows must be ≥ 0");
            var (model, tokenizer, overridden) = support.Load(parse);
            var (jsonPath, pngPath) = support.OutputPaths(parse, "loss.png");
            using var corpus = EvalCorpus.Open(parse.GetValue(data)!);
            // With a window cap, only as much text is tokenized as the longest length's windows need.
            int longest = lengths.Max();
            long need = w == 0 ? 0 : (s > 0 && s < longest ? (long)(w - 1) * s + longest + 1 : (long)w * longest + 1);
            var docs = corpus.TokenDocuments(tokenizer, need);
            stderr.WriteLine($"eval loss: {docs.Count} documents, {docs.Sum(d => (long)d.Length)} tokens from {corpus.Source}");
            var report = LossCurveReport.Run(model, docs, lengths, s, w, parse.GetValue(buckets), EvalSupport.Progress(stderr));
            EvalJson.Write(jsonPath, support.Run("loss", parse, model, overridden, corpus.Source, report));
            EvalPlots.WriteLossCurve(pngPath, report, $"Loss against context: {Path.GetFileName(model.Source.TrimEnd('/'))}");

            var console = EvalSupport.Console(stdout);
            var t = EvalSupport.Table("loss by context length", "length", "windows", "tokens", "mean loss", "perplexity");
            foreach (var r in report.Lengths)
                EvalSupport.AddRow(t, r.Length.ToString(CultureInfo.InvariantCulture), r.Windows.ToString(CultureInfo.InvariantCulture),
                    r.ScoredTokens.ToString(CultureInfo.InvariantCulture), EvalSupport.F(r.MeanLoss, "F4"), EvalSupport.F(r.Perplexity, "F2"));
            console.Write(t);
            var last = report.Lengths[^1];
            var b = EvalSupport.Table($"loss by position, length {last.Length}", "positions", "context c", "mean loss", "tokens");
            foreach (var bucket in last.Buckets)
                EvalSupport.AddRow(b, $"{bucket.From + 1}–{bucket.To}", EvalSupport.F((bucket.From + 1 + bucket.To) / 2.0, "F1"),
                    EvalSupport.F(bucket.MeanLoss, "F4"), bucket.Tokens.ToString(CultureInfo.InvariantCulture));
            console.Write(b);
            var f = EvalSupport.Table("power-law fit L(c) = (α/c)^β + γ", "basis", "α", "β", "γ", "R²", "RMSE");
            foreach (var fit in new[] { report.ByPosition, report.ByLength })
            {
                if (fit.Fit is { } p) EvalSupport.AddRow(f, fit.Basis, EvalSupport.F(p.Alpha, "G5"), EvalSupport.F(p.Beta, "G5"), EvalSupport.F(p.Gamma, "F4"), EvalSupport.F(p.RSquared, "F4"), EvalSupport.F(p.Rmse, "F4"));
                else EvalSupport.AddRow(f, fit.Basis, "no fit: " + fit.WhyNot, "", "", "", "");
            }
            console.Write(f);
            stdout.WriteLine($"wrote {jsonPath} and {pngPath}");
            return 0;
        }));
        return cmd;
    }
}
