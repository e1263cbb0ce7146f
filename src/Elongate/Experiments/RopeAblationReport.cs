using System.Globalization;
using System.Text;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Experiments;

/// <summary>Writes the ablation's report.md: conclusion, tables, charts (by relative path), settings and wall times.</summary>
public static class RopeAblationReport
{
    /// <summary>The markdown for <paramref name="r"/>; images are referenced by file name, so the folder stays portable.</summary>
    public static string Render(RopeAblationResult r, Func<string, bool>? imageExists = null)
    {
        imageExists ??= _ => true;
        var ci = CultureInfo.InvariantCulture;
        var o = r.Settings;
        var sb = new StringBuilder();
        string F(double? v, string fmt) => v is { } x && double.IsFinite(x) ? x.ToString(fmt, ci) : "–";
        sb.AppendLine("# RoPE ablation (Xiong et al. 2023, Table 5 / Figure 5b, in miniature)").AppendLine();
        sb.AppendLine($"Base model pretrained at **{o.SeqLen}** tokens, then continued at **{o.SeqLen * o.ExtendFactor}** tokens with the same tokens per variant; evaluated on held-out documents at {string.Join(", ", r.Lengths.Select(l => $"{l} ({(double)l / o.SeqLen:0.#}×)"))}.").AppendLine();
        sb.AppendLine("## Verdict (computed from the numbers below)").AppendLine().AppendLine(r.Conclusion).AppendLine();
        sb.AppendLine("## Loss (nats/token) by context").AppendLine();
        sb.Append("| model | trained at |").Append(string.Concat(r.Lengths.Select(l => $" {l} ({(double)l / o.SeqLen:0.#}×) |"))).AppendLine(" fit α | fit β | fit γ | fit R² |");
        sb.Append("|---|---|").Append(string.Concat(r.Lengths.Select(_ => "---|"))).AppendLine("---|---|---|---|");
        foreach (var v in r.Variants)
        {
            var fit = v.Loss.ByPosition.Fit;
            sb.Append($"| {v.Name} | {v.TrainedContext} |").Append(string.Concat(v.Scores.Select(s => $" {F(s.Loss, "F4")} |")))
              .AppendLine($" {F(fit?.Alpha, "G4")} | {F(fit?.Beta, "G4")} | {F(fit?.Gamma, "F4")} | {F(fit?.RSquared, "F3")} |");
        }
        sb.AppendLine().AppendLine("The fit is L(c) = (α/c)^β + γ on the loss by token position within windows of the longest length (LossCurveReport's primary basis).").AppendLine();
        sb.AppendLine("### Ordering at and beyond the extended length").AppendLine();
        foreach (var ord in r.LongContextOrdering)
            sb.AppendLine($"- {ord.Length} tokens ({ord.Multiple:0.#}×): {ord.Ordering} — paper's ABF ≤ PI < RoPE: {(ord.MatchesPaper is { } m ? (m ? "**matches**" : "**does not match**") : "not testable")}");
        sb.AppendLine();
        sb.AppendLine("## Retrieval by context").AppendLine();
        sb.Append("| model | task |").Append(string.Concat(r.Lengths.Select(l => $" {l} |"))).AppendLine();
        sb.Append("|---|---|").Append(string.Concat(r.Lengths.Select(_ => "---|"))).AppendLine();
        foreach (var v in r.Variants)
        {
            sb.Append($"| {v.Name} | passkey accuracy |").Append(string.Concat(v.Scores.Select(s => $" {F(s.Passkey, "F2")} |"))).AppendLine();
            sb.Append($"| {v.Name} | first-sentence ROUGE-L |").Append(string.Concat(v.Scores.Select(s => $" {F(s.FirstSentence, "F3")} |"))).AppendLine();
        }
        sb.AppendLine().AppendLine($"Passkey: {o.PasskeyTrials} key(s) per cell at depths {string.Join(", ", o.PasskeyDepths.Select(d => d.ToString("0.##", ci)))} (– where the prompt does not fit the length); first-sentence: {o.FirstSentenceTrials} passage(s) per length.").AppendLine();
        sb.AppendLine("### Past the trained length").AppendLine();
        foreach (var c in r.RetrievalCollapse)
            sb.AppendLine($"- {c.Variant} {c.Task}: best within trained length {F(c.WithinTrained, "F2")}, mean beyond {F(c.BeyondTrained, "F2")} → {(c.Collapses is { } x ? (x ? "collapses" : "holds") : "not judged")}");
        sb.AppendLine().AppendLine("## Charts").AppendLine();
        foreach (var (file, alt) in new[] { (ComparisonPlots.LossFile, "loss by length"), (ComparisonPlots.PasskeyFile, "passkey by length"), (ComparisonPlots.FirstSentenceFile, "first-sentence by length") })
            if (imageExists(file)) sb.AppendLine($"![{alt}]({file})").AppendLine();
        foreach (var v in r.Variants)
        {
            if (imageExists($"loss-{v.Name}.png")) sb.AppendLine($"![{v.Name} loss curve](loss-{v.Name}.png)").AppendLine();
            if (imageExists($"passkey-{v.Name}.png")) sb.AppendLine($"![{v.Name} passkey heatmap](passkey-{v.Name}.png)").AppendLine();
        }
        sb.AppendLine("## Models").AppendLine();
        sb.AppendLine("| model | recipe | RoPE θ | scaling | steps | final train loss | final val loss | train s | eval s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var v in r.Variants)
            sb.AppendLine($"| {v.Name} | {v.Description} | {v.RopeTheta.ToString("G", ci)} | {v.RopeScaling ?? "none"} | {v.Steps} | {F(v.FinalTrainLoss, "F4")} | {F(v.FinalValidationLoss, "F4")} | {F(v.TrainSeconds, "F0")} | {F(v.EvalSeconds, "F0")} |");
        sb.AppendLine().AppendLine("## Settings").AppendLine();
        sb.AppendLine($"- corpus: {r.Corpus}").AppendLine($"- tokenizer: {r.Tokenizer} ({r.VocabSize} pieces)").AppendLine($"- model: {r.ModelSummary}");
        sb.AppendLine(string.Create(ci, $"- base: {o.BaseSteps} steps at {o.SeqLen} tokens, lr {o.BaseLearningRate:G3}; extensions: {o.ExtendSteps} steps at {o.SeqLen * o.ExtendFactor} tokens, lr {o.ExtendLearningRate:G3}; {o.TokensPerStep} tokens per step throughout; warmup 10% then cosine to 10%; {(o.ShuffleChunkTokens > 0 ? $"documents shuffled in {o.ShuffleChunkTokens}-token chunks" : "whole documents shuffled")}; seed {o.Seed}"));
        sb.AppendLine($"- loss: the same held-out tokens at every length — up to {(o.LossWindows == 0 ? "all" : o.LossWindows.ToString(ci))} windows of the longest length, tiled by non-overlapping windows of each length; {r.Variants.FirstOrDefault()?.Loss.Lengths[^1].ScoredTokens} tokens scored per length");
        sb.AppendLine().AppendLine("## Wall time").AppendLine().AppendLine("| phase | seconds |").AppendLine("|---|---|");
        foreach (var (k, s) in r.PhaseSeconds) sb.AppendLine($"| {k} | {s.ToString("F1", ci)} |");
        sb.AppendLine($"| **total** | {r.TotalSeconds.ToString("F1", ci)} |");
        return sb.ToString();
    }

    /// <summary>Writes the report atomically, listing only charts that exist beside it.</summary>
    public static void Write(string path, RopeAblationResult r)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var text = Render(r, f => File.Exists(Path.Combine(dir, f)));
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
    }
}
