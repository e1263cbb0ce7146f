using System.Globalization;
using System.Text;
using Elongate.Common;

namespace Elongate.Experiments;

/// <summary>Writes the curriculum experiment's report.md: verdict, table, FLOPs derivation, charts, limits, settings, wall times.</summary>
public static class CurriculumReport
{
    /// <summary>The markdown for <paramref name="r"/>; images are referenced by file name.</summary>
    public static string Render(CurriculumResult r, Func<string, bool>? imageExists = null)
    {
        imageExists ??= _ => true;
        var ci = CultureInfo.InvariantCulture;
        var o = r.Settings;
        int T = o.ShortLength, TL = o.LongLength;
        string F(double? v, string fmt) => v is { } x && double.IsFinite(x) ? x.ToString(fmt, ci) : "–";
        var sb = new StringBuilder();
        sb.AppendLine("# Training curriculum (Xiong et al. 2023, §4.4 / Table 10, in miniature)").AppendLine();
        sb.AppendLine(string.Create(ci,
            $"Every model trains the same **{(long)o.Steps * o.TokensPerStep:N0} tokens** ({o.Steps} steps × {o.TokensPerStep} tokens): from scratch at **{TL}** tokens, or at **{T}** tokens switching to {TL} after {string.Join(", ", o.Switches.Order().Select(f => (100 * f).ToString("0.#", ci) + "%"))} of them. "
            + $"RoPE θ {r.ShortTheta:G4} at {T}{(o.Theta is null ? " (the scaled base: its longest wavelength is the same multiple of the short length as Llama 2's of 4,096)" : "")}, θ {r.ShortTheta * o.AbfFactor:G4} (ABF, ×{o.AbfFactor:G}) at {TL} and for the model trained from scratch. "
            + $"{(o.RetrievalShare > 0 ? $"{100 * o.RetrievalShare:F0}% of the training tokens come from the synthetic retrieval mix (passkeys, key→value lookups, repeated passages, first-sentence questions up to {TL} tokens)" : "No retrieval mix (corpus text only)")}. Seeds: {string.Join(", ", o.Seeds)}."));
        sb.AppendLine().AppendLine("## Verdict (computed from the numbers below)").AppendLine().AppendLine(r.Conclusion).AppendLine();

        sb.AppendLine("## Results").AppendLine();
        sb.AppendLine($"| curriculum | FLOPs | FLOPs ÷ scratch | loss at {TL} | sd over seeds | Δ vs scratch [95% CI] | verdict | loss at {T} | passkey at {TL} | train s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var s in r.Summary)
            sb.AppendLine(string.Create(ci,
                $"| {s.Variant} | {s.Flops:E3} | {s.FlopsRatio:F3} | {s.LongLoss:F4} | {F(s.LongLossSd, "F4")} | {(s.SwitchAt == 0 ? "–" : $"{s.Difference:+0.0000;-0.0000} [{s.Lower:+0.0000;-0.0000}, {s.Upper:+0.0000;-0.0000}]")} | {s.Verdict} | {s.ShortLoss:F4} | {F(s.PasskeyLong, "F2")} | {s.TrainSeconds:F0} |"));
        sb.AppendLine().AppendLine(string.Create(ci,
            $"Loss: mean nats/token over the same {r.Runs[0].WindowLosses.Count} held-out windows of {TL} tokens ({r.EvalCorpus}); \"loss at {T}\" scores the same tokens in windows of {T}. "
            + $"Verdict: \"reaches\" when the interval's upper end is within the margin, {100 * (o.Margin):F0}% of the from-scratch loss ({r.MarginNats:F4} nats); \"falls short\" when its lower end is beyond it; else \"undecided\". "
            + $"Interval: {r.Summary.Skip(1).FirstOrDefault()?.IntervalBasis ?? "–"}. Passkey: {o.PasskeyTrials} key(s) at depths {string.Join(", ", o.PasskeyDepths.Select(d => d.ToString("0.##", ci)))}; train s: measured training seconds of all stages on this machine."));
        if (r.Runs.Select(x => x.Seed).Distinct().Count() > 1)
        {
            sb.AppendLine().AppendLine("### Per seed").AppendLine();
            sb.AppendLine($"| curriculum | seed | loss at {TL} | loss at {T} | passkey at {T} | passkey at {TL} | final train loss |").AppendLine("|---|---|---|---|---|---|---|");
            foreach (var x in r.Runs)
                sb.AppendLine(string.Create(ci, $"| {x.Variant} | {x.Seed} | {x.LongLoss:F4} | {x.ShortLoss:F4} | {F(x.PasskeyShort, "F2")} | {F(x.PasskeyLong, "F2")} | {F(x.FinalTrainLoss, "F4")} |"));
        }

        sb.AppendLine().AppendLine("## How the FLOPs are counted").AppendLine();
        var s0 = r.Runs[0];
        var scratchStage = s0.Stages[0];
        var shortStage = r.Runs.FirstOrDefault(x => x.SwitchAt > 0)?.Stages[0];
        sb.AppendLine($"{TrainingFlops.Formula} (the Chinchilla convention the paper's Table 10 uses): N non-embedding parameters, d·V the output matrix (the input embedding is a lookup), "
            + "6 = 2 forward + 4 backward FLOPs per weight and token; 12·L·T·d = attention's scores QKᵀ and weighted values, 2·T·d each per layer and token forward, ×3 for the backward. "
            + "A curriculum's FLOPs = Σ over its stages of tokens × FLOPs per token at the stage's length.").AppendLine();
        if (shortStage is not null)
            sb.AppendLine(string.Create(ci,
                $"Here: {shortStage.FlopsPerToken:E3} FLOPs per token at {T} and {scratchStage.FlopsPerToken:E3} at {TL} (ratio {scratchStage.FlopsPerToken / shortStage.FlopsPerToken:F2}; attention is {100 * (shortStage.AttentionShare):F0}% and {100 * (scratchStage.AttentionShare):F0}% of it). "
                + $"For Llama 2 7B at 4,096 → 32,768 the same formula gives 4.6·10¹⁰ and 9.1·10¹⁰ (ratio 1.98; attention 14% and 57%), so this miniature keeps the ratio that decides the saving. "
                + $"The count is the convention's, not this engine's: causal attention skips about half of the quadratic work, which the measured seconds show."));
        sb.AppendLine();

        sb.AppendLine("## Charts").AppendLine();
        foreach (var (file, alt) in new[] { (CurriculumPlots.TrainingLossFile, "training loss against tokens"), (CurriculumPlots.LossVsFlopsFile, "held-out loss against FLOPs") })
            if (imageExists(file)) sb.AppendLine($"![{alt}]({file})").AppendLine();

        sb.AppendLine("## What this miniature can and cannot say").AppendLine();
        sb.AppendLine(string.Create(ci,
            $"- It can say whether, at this size and budget, switching from {T} to {TL} tokens part-way through training costs long-context loss against training at {TL} throughout, with the same tokens, initialization, data order and learning-rate schedule — the controlled form of the paper's comparison — and what the FLOPs formula and the measured seconds say the switch saves. The ratio of per-token compute between the two lengths ({(shortStage is null ? "–" : (scratchStage.FlopsPerToken / shortStage.FlopsPerToken).ToString("F2", ci))}) is close to Llama 2 7B's at 4k → 32k (1.98), so the FLOPs savings are the paper's in proportion."));
        sb.AppendLine($"- It cannot say how the result scales: a {r.ModelSummary.Split(':')[0]} model trained on {(long)o.Steps * o.TokensPerStep / 1e6:F1}M tokens is far from 7B on 400B+; the paper evaluates downstream long tasks (NarrativeQA, Qasper, QuALITY, QMSum) that a model this small cannot do at all, so only held-out loss (and passkey, where any model retrieves) is compared here.");
        sb.AppendLine("- Loss differences of a few thousandths of a nat are within what the interval above calls noise; with one seed the interval covers the choice of held-out windows only, not the training run's own randomness (run `--seeds 1,2,3` for that).");
        sb.AppendLine("- The synthetic corpus (the default) has little long-range structure, so long context helps its loss little; books and the retrieval mix give long context something to do. Passkey accuracy speaks only where some model retrieves at all; with a handful of keys per length its steps are coarse.").AppendLine();

        sb.AppendLine("## Settings").AppendLine();
        sb.AppendLine($"- corpus: {r.Corpus}; held-out evaluation: {r.EvalCorpus}").AppendLine($"- tokenizer: {r.Tokenizer} ({r.VocabSize} pieces)").AppendLine($"- model: {r.ModelSummary}");
        sb.AppendLine(string.Create(ci,
            $"- optimizer: AdamW, lr {o.LearningRate:G3}, warmup {Math.Max(1, o.Steps / 10)} steps then one cosine to 10% over all {o.Steps} steps, the state carried across the switch; {o.TokensPerStep} tokens per step at both lengths ({o.TokensPerStep / T} × {T} or {o.TokensPerStep / TL} × {TL}); {(o.ShuffleChunkTokens > 0 ? $"documents shuffled in {o.ShuffleChunkTokens}-token chunks" : "whole documents shuffled")}"));
        sb.AppendLine().AppendLine("## Wall time").AppendLine().AppendLine("| phase | seconds |").AppendLine("|---|---|");
        foreach (var (k, v) in r.PhaseSeconds) sb.AppendLine($"| {k} | {v.ToString("F1", ci)} |");
        sb.AppendLine($"| **total** | {r.TotalSeconds.ToString("F1", ci)} |");
        return sb.ToString();
    }

    /// <summary>Writes the report atomically, listing only charts that exist beside it.</summary>
    public static void Write(string path, CurriculumResult r)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var text = Render(r, f => File.Exists(Path.Combine(dir, f)));
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
    }
}
