using System.Globalization;
using System.Text;
using Elongate.Common;

namespace Elongate.Experiments;

/// <summary>Writes the input-loss experiment's report.md: verdict, scores with intervals, the paired difference, data, limits, settings, wall times.</summary>
public static class InputLossReport
{
    /// <summary>The markdown for <paramref name="r"/>; images are referenced by file name.</summary>
    public static string Render(InputLossResult r, Func<string, bool>? imageExists = null)
    {
        imageExists ??= _ => true;
        var ci = CultureInfo.InvariantCulture;
        var o = r.Settings;
        string F(double? v, string fmt) => v is { } x && double.IsFinite(x) ? x.ToString(fmt, ci) : "–";
        string S(double v) => v.ToString("+0.000;-0.000;0.000", ci);
        var sb = new StringBuilder();
        sb.AppendLine("# Loss on the input in instruction tuning (Xiong et al. 2023, §4.3 / Table 9, in miniature)").AppendLine();
        sb.AppendLine(string.Create(ci,
            $"One extended model ({r.BaseModel}) instruction-tuned twice on the same self-instruct long QA at {o.LongLength} tokens — loss on the answers only, and on the answers and the input — and asked {r.Documents.Test} held-out long-QA questions through the long-task harness."));
        sb.AppendLine().AppendLine("## Verdict (computed from the numbers below)").AppendLine().AppendLine(r.Conclusion).AppendLine();
        sb.AppendLine("## Held-out long QA").AppendLine();
        sb.AppendLine("| model | loss on | token F1 [95% CI] | right value named [95% CI] | replies naming one of the 16 values | tuning examples | loss tokens / tokens | steps | tune s | eval s | documents cut |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var m in r.Models)
            sb.AppendLine(string.Create(ci,
                $"| {m.Name} | {m.Description} | {m.Score:F3} [{m.Lower:F3}, {m.Upper:F3}] | {m.ValueScore:F3} [{m.ValueLower:F3}, {m.ValueUpper:F3}] | {m.RepliesNamingAValue}/{m.Scores.Count} | {F(m.Examples, "F0")} | {(m.LossTokens is null ? "–" : $"{m.LossTokens:N0} / {m.Tokens:N0}")} | {F(m.Steps, "F0")} | {(m.Name == "base" ? "–" : m.TuneSeconds.ToString("F0", ci))} | {m.EvalSeconds:F0} | {m.Truncated} |"));
        var d = r.Difference;
        var v = r.ValueDifference;
        sb.AppendLine().AppendLine(string.Create(ci,
            $"Token F1 is the harness's (SQuAD normalisation, against the value word): a right reply in the tuned form (\"The password of the ADJ NOUN is VALUE.\") scores about 0.29, the bare value 1, a wrong one 0. \"Right value named\" reads the word after \"is\" (else the first word) and compares it with the value; a uniform guess among the 16 values is right {InputLossExperiment.Chance:F4} of the time, the chance line of the verdict. Intervals: 95% percentile bootstrap over the questions (10,000 resamples, seed 1)."));
        sb.AppendLine().AppendLine("### answers+input − answers (paired bootstrap over the same questions)").AppendLine();
        sb.AppendLine("| score | n | answers+input | answers | difference [95% CI] | p |").AppendLine("|---|---|---|---|---|---|");
        sb.AppendLine(string.Create(ci, $"| token F1 | {d.N} | {d.MeanA:F3} | {d.MeanB:F3} | {S(d.Difference)} [{S(d.Lower)}, {S(d.Upper)}] | {d.PValue:F3} |"));
        sb.AppendLine(string.Create(ci, $"| right value named | {v.N} | {v.MeanA:F3} | {v.MeanB:F3} | {S(v.Difference)} [{S(v.Lower)}, {S(v.Upper)}] | {v.PValue:F3} |"));
        sb.AppendLine().AppendLine("### First answers of each model").AppendLine();
        sb.AppendLine("| model | question | reference | reply | score |").AppendLine("|---|---|---|---|---|");
        foreach (var m in r.Models)
            foreach (var s in m.Samples)
                sb.AppendLine($"| {m.Name} | {s.Id} | {s.Reference} | {s.Prediction.Replace("|", "\\|").Replace("\n", " ")} | {s.Score.ToString("F0", ci)} |");

        sb.AppendLine().AppendLine("## The data").AppendLine();
        var si = r.SelfInstruct;
        sb.AppendLine(string.Create(ci,
            $"- Documents: runs of consecutive sentences of the corpus with one planted fact, \"The password of the ADJ NOUN is VALUE.\", at a random sentence boundary; whole sentences up to a target drawn from {r.Documents.MinTokens}–{r.Documents.MaxTokens} tokens ({r.Documents.Train} training documents, mean {r.Documents.TrainMeanTokens:F0}; {r.Documents.Test} held out, mean {r.Documents.TestMeanTokens:F0}, from held-out text, with keys training never used; {r.Documents.TestFactsInFirstHalf} held-out facts in the first {r.Documents.MaxTokens / 2} tokens, {r.Documents.TestFactsInSecondHalf} after)."));
        sb.AppendLine(string.Create(ci,
            $"- Self-instruct with the miniature's rule-based teacher (`PasswordTeacher`: a question only from a {o.ChunkTokens}-token chunk that holds a whole fact, answered with the fact restated): {si.WorkItems} chunks drawn, {si.Generated} replies, rejected {string.Join(", ", si.Rejected.Where(x => x.Value > 0).Select(x => $"{x.Key} {x.Value}"))}; **{si.Kept} kept**; evidence position in 10 bins: {string.Join(" ", si.EvidencePositionHistogram)}."));
        sb.AppendLine($"- Tuning: the chat template {o.ChatTemplate}; the user turn is the document, a blank line and the question (self-instruct's form), and the harness asks the held-out questions in exactly that form (prompts/{InputLossExperiment.TaskName}.txt).").AppendLine();
        foreach (var (file, alt) in new[] { ("tune-loss-answers.png", "tuning loss, answers"), ("tune-loss-answers-input.png", "tuning loss, answers and input") })
            if (imageExists(file)) sb.AppendLine($"![{alt}]({file})").AppendLine();

        sb.AppendLine("## What this miniature can and cannot say").AppendLine();
        sb.AppendLine("- It can say whether, for this model and data, adding loss on the input tokens changes held-out long-QA accuracy beyond what resampling the questions explains — the same comparison as the paper's Table 9, with both tunings identical except for which tokens carry loss, and the same questions scored by the same harness.");
        sb.AppendLine("- It cannot say much when neither tuned model beats the 1-in-16 chance of a guess: then the models have no long-QA skill for the loss choice to improve (docs/self-instruct-mini.md found the same of a 1M-parameter model on this task), and a difference of zero is no evidence against the paper. The paper's gain came with 7B–70B models, 16k-token documents and a mixture of short chat data; here it is one synthetic task, one seed, and tens of questions, so only large differences are resolvable.");
        sb.AppendLine("- Token F1 depends on the reply's wording as well as its value (the tuned form has six scored tokens besides the value), so it is compared only between the two tunings, which learn the same form; whether a model retrieves is judged on the value it names. A substring match (L-Eval's exam em) was not used: it credits \"sun\" inside a made-up key such as \"sunge\", which an earlier run of this experiment did for 6 of 60 answers.").AppendLine();
        sb.AppendLine("## Settings").AppendLine();
        sb.AppendLine($"- corpus: {r.Corpus}{(o.EvalCorpusPath is { } e ? $"; held-out QA sentences from {e}" : "")}").AppendLine($"- model: {r.ModelSummary}");
        sb.AppendLine(string.Create(ci,
            $"- tuning: full fine-tuning, {o.Epochs} epochs, lr {o.FineTuneLearningRate:G3} (3% warm-up, cosine to 10%), weight decay 0.1, {o.FineTuneTokensPerStep} tokens per step ({o.FineTuneTokensPerStep / o.LongLength} sequences of {o.LongLength}); short examples packed, each attending only to itself; loss weighted per token; seed {o.Seed}"));
        sb.AppendLine().AppendLine("## Wall time").AppendLine().AppendLine("| phase | seconds |").AppendLine("|---|---|");
        foreach (var (k, s) in r.PhaseSeconds) sb.AppendLine($"| {k} | {s.ToString("F1", ci)} |");
        sb.AppendLine($"| **total** | {r.TotalSeconds.ToString("F1", ci)} |");
        return sb.ToString();
    }

    /// <summary>Writes the report atomically, listing only charts that exist beside it.</summary>
    public static void Write(string path, InputLossResult r)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var text = Render(r, f => File.Exists(Path.Combine(dir, f)));
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));
    }
}
