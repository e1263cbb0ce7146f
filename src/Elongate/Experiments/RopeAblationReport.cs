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
        sb.AppendLine($"Base model pretrained at **{o.SeqLen}** tokens, then continued at **{o.SeqLen * o.ExtendFactor}** tokens ({o.ExtendFactor}×) with the same tokens per variant and {o.Seeds} data-order seed(s) per variant; evaluated on held-out documents at {string.Join(", ", r.Lengths.Select(l => $"{l} ({(double)l / o.SeqLen:0.#}×)"))}.").AppendLine();
        sb.AppendLine("## Verdict on the paper's claims (computed from the numbers below)").AppendLine();
        sb.AppendLine("| claim | verdict | evidence (mean ± standard deviation over the extension seeds) |").AppendLine("|---|---|---|");
        foreach (var c in r.Claims) sb.AppendLine($"| {c.Claim} | **{c.Verdict}** | {c.Evidence} |");
        sb.AppendLine().AppendLine($"A difference counts as holding only when the two means differ by more than the sum of their standard deviations over {o.Seeds} extension seed(s); otherwise it is a tie within the spread. "
            + string.Join(" ", r.LongContextOrdering.Select(x => string.Create(ci, $"Mean ordering at {x.Multiple:0.#}× ({x.Length} tokens): {x.Ordering}.")))).AppendLine();

        var th = r.Theta;
        sb.AppendLine("## The scaled RoPE base").AppendLine();
        sb.AppendLine(string.Create(ci, $"Pair j of a head of dimension d rotates by θ^(−2j/d) per position; the slowest pair has wavelength λ = 2π·θ^((d−2)/d). Llama 2 (d 128, θ 10,000, trained at 4,096, extended to 32,768): λ = 2π·10^(4·126/128) = 54,410 tokens = **{th.ReferenceWavelengthOverTrained:F2}×** its trained length and **{th.ReferenceWavelengthOverExtended:F2}×** the extended one. "));
        if (th.Derived)
            sb.AppendLine(string.Create(ci, $"The miniature (d {th.HeadDim}, trained at {th.TrainedLength}, extended to {th.ExtendedLength}) keeps that ratio: 2π·θ^({th.HeadDim - 2}/{th.HeadDim}) = {th.ReferenceWavelengthOverTrained:F3}·{th.TrainedLength} ⇒ θ = ({th.ReferenceWavelengthOverTrained:F3}·{th.TrainedLength}/2π)^({th.HeadDim}/{th.HeadDim - 2}) = **{th.Theta:F1}**; ABF multiplies it by {o.AbfFactor:G3} (the paper's 10,000 → 500,000) to **{th.AbfTheta:F0}**, PI interpolates by {o.ExtendFactor}."));
        else
            sb.AppendLine(string.Create(ci, $"This run uses the given θ = **{th.Theta:G6}** (not scaled): λ = {th.LongestWavelength:F0} tokens = {th.WavelengthOverTrained:F2}× its trained length {th.TrainedLength} and {th.WavelengthOverExtended:F2}× the extended {th.ExtendedLength} — not Llama 2's {th.ReferenceWavelengthOverTrained:F2}× and {th.ReferenceWavelengthOverExtended:F2}×. ABF: θ {th.AbfTheta:G6}."));
        sb.AppendLine(string.Create(ci, $"Its λ = {th.LongestWavelength:F0} tokens = {th.WavelengthOverTrained:F2}× trained, {th.WavelengthOverExtended:F2}× extended.")).AppendLine();
        sb.AppendLine("Decay bound score(Δ)/√d (all-ones q and k, `rope decay`'s curve normalised to 1 at Δ = 0), averaged over ±10% of Δ, at the same distances relative to each model's trained length:").AppendLine();
        sb.Append("| curve |").Append(string.Concat(th.Relative.Select(x => $" {x.ToString("0.##", ci)}× |"))).AppendLine();
        sb.Append("|---|").Append(string.Concat(th.Relative.Select(_ => "---|"))).AppendLine();
        void Row(string label, IReadOnlyList<double> ys) => sb.Append($"| {label} |").Append(string.Concat(ys.Select(y => $" {y.ToString("F3", ci)} |"))).AppendLine();
        Row("Llama 2, θ 10,000 (L 4,096)", th.ReferenceDecay);
        Row(string.Create(ci, $"miniature, θ {th.Theta:G4} (L {th.TrainedLength})"), th.MiniatureDecay);
        Row(string.Create(ci, $"miniature, θ 10,000 (L {th.TrainedLength})"), th.Theta10000Decay);
        Row("Llama 2 ABF, θ 500,000", th.ReferenceAbfDecay);
        Row(string.Create(ci, $"miniature ABF, θ {th.AbfTheta:G4}"), th.MiniatureAbfDecay);
        sb.AppendLine();
        if (imageExists(RopeAblation.DecayFileName)) sb.AppendLine($"![decay curves on the relative axis]({RopeAblation.DecayFileName})").AppendLine();

        sb.AppendLine("## Training data").AppendLine();
        if (r.RetrievalMix is { } mix)
            sb.AppendLine(string.Create(ci, $"{mix.Share:P0} of the training tokens of both stages are synthetic retrieval documents (`RetrievalDocuments`), the rest the corpus: base stage {mix.BaseDocuments} documents ({mix.BaseTokens} tokens) up to {mix.BaseMaxLength} tokens ({(o.BaseFullLengthRetrieval ? "each the full base length" : "lengths uniform from a quarter of it")}; {string.Join(", ", mix.BaseKinds.Select(k => $"{k.Key} {k.Value}"))}); extension stage {mix.ExtendDocuments} documents ({mix.ExtendTokens} tokens) up to {mix.ExtendMaxLength} tokens ({(o.ExtendLogUniformLengths ? "lengths log-uniform from a quarter of the base length" : "lengths uniform from a quarter of the base length")}), so each stage sees facts at distances up to its own length. Passkeys use the probe's exact wording (half with its own filler, half with book sentences); first-sentence documents end with the evaluation's exact question. Filler: {mix.FillerSentences} sentences of the training books (never the held-out ones). A retrieval document is never cut across two training windows (the rest of a window it does not fit is padding), and ")
                + (o.RetrievalAnswersOnly ? "only its answer carries loss (`--retrieval-loss answers`), so five digits are not drowned by two hundred tokens of filler." : "every token carries loss (`--retrieval-loss all`)."));
        else sb.AppendLine("No retrieval mix (`--retrieval-mix 0`): the corpus alone.");
        sb.AppendLine().AppendLine($"Every loss and retrieval probe reads: {r.EvalCorpus}.").AppendLine();

        sb.AppendLine("## Over the seeds (mean ± standard deviation)").AppendLine();
        sb.Append("| model | seeds | measure |").Append(string.Concat(r.Lengths.Select(l => $" {l} ({(double)l / o.SeqLen:0.#}×) |"))).AppendLine(" β |");
        sb.Append("|---|---|---|").Append(string.Concat(r.Lengths.Select(_ => "---|"))).AppendLine("---|");
        foreach (var s in r.Summaries)
        {
            sb.Append($"| {s.Name} | {s.Seeds} | loss |").Append(string.Concat(s.Scores.Select(x => $" {x.Loss.Format("F4")} |"))).AppendLine($" {s.Beta?.Format("F3") ?? "–"} |");
            sb.Append($"| {s.Name} | {s.Seeds} | passkey |").Append(string.Concat(s.Scores.Select(x => $" {x.Passkey?.Format("F2") ?? "–"} |"))).AppendLine(" |");
            sb.Append($"| {s.Name} | {s.Seeds} | passkey first digit |").Append(string.Concat(s.Scores.Select(x => $" {x.PasskeyFirstDigit?.Format("F2") ?? "–"} |"))).AppendLine(" |");
            sb.Append($"| {s.Name} | {s.Seeds} | first-sentence |").Append(string.Concat(s.Scores.Select(x => $" {x.FirstSentence?.Format("F3") ?? "–"} |"))).AppendLine(" |");
            sb.Append($"| {s.Name} | {s.Seeds} | repeated-token copy |").Append(string.Concat(s.Scores.Select(x => $" {x.RepeatedTokens?.Format("F3") ?? "–"} |"))).AppendLine(" |");
        }
        sb.AppendLine().AppendLine("β is the exponent of L(c) = (α/c)^β + γ fitted per model to the loss by token position (the paper's 7B–70B models: 0.45–0.51). The base model's seeds are 1: it is trained once.").AppendLine();

        sb.AppendLine("## What this miniature can and cannot say").AppendLine();
        var baseAt1 = r.Summaries.FirstOrDefault(s => s.Name == "base")?.Scores.FirstOrDefault(x => x.Length == o.SeqLen);
        sb.AppendLine(string.Create(ci, $"- **Can**: compare the four extension recipes on the same base weights and the same tokens with a RoPE whose longest wavelength and decay sit where Llama 2's do relative to the trained and extended lengths; so a difference between RoPE unchanged, PI and ABF at 2–8× has the cause the paper names, and the spread over {o.Seeds} data-order seed(s) says which differences are larger than training noise."));
        sb.AppendLine(baseAt1?.Passkey is { } pk
            ? string.Create(ci, $"- **Can** (retrieval): the base model's passkey accuracy at 1× is {pk.Format("F2")} and its first-sentence ROUGE-L {baseAt1.FirstSentence?.Format("F3") ?? "–"}, its repeated-token copy accuracy {baseAt1.RepeatedTokens?.Format("F3") ?? "–"} (chance: 1/90,000 for a 5-digit key; about {RopeAblation.FirstSentenceChanceFloor} ROUGE-L for unrelated sentences; {r.RepeatedTokensChance:0.####} per copied token), so retrieval past 1× is {(pk.Mean > 0.2 ? "a skill the extensions can keep or lose" : "only weakly present to begin with, and its loss says little")}.")
            : "- **Cannot** (retrieval): the passkey prompt does not fit the base length, so retrieval at 1× is not measured.");
        sb.AppendLine(string.Create(ci, $"- **Cannot**: speak for 7B–70B models or 32,768 tokens: the model is {r.ModelSummary.Split(';')[^1].Trim()}, trained on {o.BaseSteps * (long)o.TokensPerStep / 1e6:F1}M + {o.ExtendSteps * (long)o.TokensPerStep / 1e6:F2}M tokens; a small head (d {th.HeadDim}) has {th.HeadDim / 2} frequencies against Llama 2's 64, so only one of the ratios (the longest wavelength) can be matched exactly, and the decay curves differ below 0.5× of the trained length."));
        sb.AppendLine("- **Cannot**: separate variance of the base model from the extension's: the base is trained once, seeds vary only the extension data order; probes are few (passkey and first-sentence trials per cell in Settings), so a single cell moves in steps of 1/trials.");
        sb.AppendLine("- **Cannot**: test retrieval past the extended length (8× is the longest length evaluated, where every extension was trained); \"past the trained length\" in the verdict means past the base's.").AppendLine();

        sb.AppendLine("## Per run").AppendLine();
        sb.AppendLine("### Loss (nats/token) by context").AppendLine();
        sb.Append("| model | trained at |").Append(string.Concat(r.Lengths.Select(l => $" {l} ({(double)l / o.SeqLen:0.#}×) |"))).AppendLine(" fit α | fit β | fit γ | fit R² |");
        sb.Append("|---|---|").Append(string.Concat(r.Lengths.Select(_ => "---|"))).AppendLine("---|---|---|---|");
        foreach (var v in r.Variants)
        {
            var fit = v.Loss.ByPosition.Fit;
            sb.Append($"| {v.Label} | {v.TrainedContext} |").Append(string.Concat(v.Scores.Select(s => $" {F(s.Loss, "F4")} |")))
              .AppendLine($" {F(fit?.Alpha, "G4")} | {F(fit?.Beta, "G4")} | {F(fit?.Gamma, "F4")} | {F(fit?.RSquared, "F3")} |");
        }
        sb.AppendLine().AppendLine("The fit is L(c) = (α/c)^β + γ on the loss by token position within windows of the longest length (LossCurveReport's primary basis).").AppendLine();
        sb.AppendLine("#### Ordering at and beyond the extended length").AppendLine();
        foreach (var ord in r.LongContextOrdering)
            sb.AppendLine($"- {ord.Length} tokens ({ord.Multiple:0.#}×): {ord.Ordering} — paper's ABF ≤ PI < RoPE: {(ord.MatchesPaper is { } m ? (m ? "**matches**" : "**does not match**") : "not testable")}");
        sb.AppendLine();
        sb.AppendLine("### Retrieval by context").AppendLine();
        sb.Append("| model | task |").Append(string.Concat(r.Lengths.Select(l => $" {l} |"))).AppendLine();
        sb.Append("|---|---|").Append(string.Concat(r.Lengths.Select(_ => "---|"))).AppendLine();
        foreach (var v in r.Variants)
        {
            sb.Append($"| {v.Label} | passkey accuracy |").Append(string.Concat(v.Scores.Select(s => $" {F(s.Passkey, "F2")} |"))).AppendLine();
            sb.Append($"| {v.Label} | passkey first digit |").Append(string.Concat(v.Scores.Select(s => $" {F(s.PasskeyFirstDigit, "F2")} |"))).AppendLine();
            sb.Append($"| {v.Label} | passkey digits |").Append(string.Concat(v.Scores.Select(s => $" {F(RopeAblation.PasskeyDigitShare(v.Passkey, s.Length), "F2")} |"))).AppendLine();
            sb.Append($"| {v.Label} | first-sentence ROUGE-L |").Append(string.Concat(v.Scores.Select(s => $" {F(s.FirstSentence, "F3")} |"))).AppendLine();
            sb.Append($"| {v.Label} | repeated-token copy |").Append(string.Concat(v.Scores.Select(s => $" {F(s.RepeatedTokens, "F3")} |"))).AppendLine();
        }
        if (r.PasskeyDistances.Count > 0)
            sb.AppendLine().AppendLine("How far back the key sits in each passkey cell (tokens from the needle to the answer; the filler comes in whole blocks): "
                + string.Join("; ", r.PasskeyDistances.GroupBy(d => d.Length).Select(g => $"{g.Key}: " + string.Join(", ", g.Select(d => string.Create(ci, $"{d.Tokens} at depth {d.Depth:0.##}"))))) + "."
                + (r.RetrievalMix is { BasePasskeyDistances: { } bd } m
                    ? $" The base stage's passkey documents put the key {bd.Median} tokens back at the median, {bd.P90} at the 90th percentile and {bd.Max} at most"
                      + (m.ExtendPasskeyDistances is { } xd ? $"; the extension's {xd.Median}, {xd.P90} and {xd.Max}." : ".")
                    : ""));
        sb.AppendLine().AppendLine($"Passkey: {o.PasskeyTrials} key(s) per cell at depths {string.Join(", ", o.PasskeyDepths.Select(d => d.ToString("0.##", ci)))} (– where the prompt does not fit the length); passkey first digit: the share of answers that start with the key's first digit (chance 1/9); passkey digits: the share of the key's digits reproduced in place (chance about 0.1); both show a copy that is blurred rather than absent; first-sentence: {o.FirstSentenceTrials} passage(s) per length; repeated-token copy: {o.RepeatedTokensTrials} random sequence(s) per length, each window BOS plus (L − 1)/2 random tokens twice, scored as the share of the second copy the model predicts (teacher forced; chance {r.RepeatedTokensChance:0.####}, one over the tokenizer's normal pieces), so the copy spans half the window with no prompt wording: Olsson et al.'s induction test, the generic copying every retrieval task needs.").AppendLine();
        sb.AppendLine("#### Past the trained length").AppendLine();
        foreach (var c in r.RetrievalCollapse)
            sb.AppendLine($"- {c.Variant} {c.Task}: best within trained length {F(c.WithinTrained, "F2")}, mean beyond {F(c.BeyondTrained, "F2")} → {(c.Collapses is { } x ? (x ? "collapses" : "holds") : "not judged")}");
        sb.AppendLine().AppendLine("### Charts").AppendLine();
        foreach (var (file, alt) in new[] { (ComparisonPlots.LossFile, "loss by length"), (ComparisonPlots.PasskeyFile, "passkey by length"), (ComparisonPlots.FirstSentenceFile, "first-sentence by length"), (ComparisonPlots.RepeatedTokensFile, "repeated-token copy by length") })
            if (imageExists(file)) sb.AppendLine($"![{alt}]({file})").AppendLine();
        foreach (var v in r.Variants)
        {
            string file = v.SeedIndex == 0 ? v.Name : $"{v.Name}-s{v.SeedIndex}";
            if (imageExists($"loss-{file}.png")) sb.AppendLine($"![{v.Label} loss curve](loss-{file}.png)").AppendLine();
            if (imageExists($"passkey-{file}.png")) sb.AppendLine($"![{v.Label} passkey heatmap](passkey-{file}.png)").AppendLine();
        }
        sb.AppendLine("### Models").AppendLine();
        sb.AppendLine("| model | recipe | RoPE θ | scaling | steps | final train loss | final val loss | train s | eval s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var v in r.Variants)
            sb.AppendLine($"| {v.Label} | {v.Description} | {v.RopeTheta.ToString("G", ci)} | {v.RopeScaling ?? "none"} | {v.Steps} | {F(v.FinalTrainLoss, "F4")} | {F(v.FinalValidationLoss, "F4")} | {F(v.TrainSeconds, "F0")} | {F(v.EvalSeconds, "F0")} |");
        sb.AppendLine().AppendLine("## Settings").AppendLine();
        sb.AppendLine($"- corpus: {r.Corpus}").AppendLine($"- tokenizer: {r.Tokenizer} ({r.VocabSize} pieces)").AppendLine($"- model: {r.ModelSummary}");
        sb.AppendLine(string.Create(ci, $"- RoPE: base θ {r.Theta.Theta:G6} ({(r.Theta.Derived ? "scaled to Llama 2's ratios" : "given by --theta")}), ABF ×{o.AbfFactor:G3}, PI factor {o.ExtendFactor}; retrieval mix {o.RetrievalMix:G3}; {o.Seeds} extension seed(s) (data order {o.Seed} + k·1,000,003)"));
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
