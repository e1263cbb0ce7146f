using System.Text.Json;
using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation;

/// <summary>Log-likelihood multiple choice: the evaluator, acc/acc_norm, TruthfulQA MC1/MC2, records and resume.</summary>
public sealed class MultipleChoiceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-mc");

    public void Dispose() => _dir.Delete(true);

    private static MultipleChoiceItem Capital(string id = "1") =>
        new(id, "Question: What is the capital of France?\nAnswer:", ["Berlin", "Paris", "Madrid", "Rome"], [1]);

    [Fact]
    public async Task Log_likelihood_MC_with_a_model_that_prefers_a_known_option_picks_it()
    {
        using var model = MultipleChoiceFakeModel.Preferring(" Paris");
        var record = await new MultipleChoiceEvaluator(model).ScoreAsync(Capital());

        Assert.Equal(1, record.Prediction);
        Assert.Equal(1.0, record.Acc);
        Assert.Equal(1.0, record.AccNorm);
        // One call, the context as is, each choice continued after lm-evaluation-harness's " " delimiter.
        var call = Assert.Single(model.Calls);
        Assert.Equal("Question: What is the capital of France?\nAnswer:", call.Context);
        Assert.Equal(new[] { " Berlin", " Paris", " Madrid", " Rome" }, call.Continuations);

        // A model that prefers a wrong option is scored wrong.
        using var wrong = MultipleChoiceFakeModel.Preferring(" Rome");
        var bad = await new MultipleChoiceEvaluator(wrong).ScoreAsync(Capital());
        Assert.Equal(3, bad.Prediction);
        Assert.Equal(0.0, bad.Acc);
    }

    [Fact]
    public async Task Acc_and_acc_norm_differ_when_length_normalisation_flips_the_choice()
    {
        // " cat": −6 over 3 characters = −2/char; " elephants": −9 over 9 characters = −1/char. The raw argmax is cat,
        // the per-character argmax elephants (the delimiter is not counted, as lm-evaluation-harness's len(choice)).
        var item = new MultipleChoiceItem("1", "The largest land animal is the", ["cat", "elephants"], [1]);
        using var model = new MultipleChoiceFakeModel((_, c) => c == " cat" ? -6 : -9);
        var record = await new MultipleChoiceEvaluator(model).ScoreAsync(item);

        Assert.Equal(new[] { 3, 9 }, record.ChoiceLengths);
        Assert.Equal(0, record.Prediction);
        Assert.Equal(1, record.PredictionNorm);
        Assert.Equal(0.0, record.Acc);
        Assert.Equal(1.0, record.AccNorm);
    }

    [Fact]
    public void Choice_length_counts_code_points_like_python_len_and_ties_go_to_the_first()
    {
        Assert.Equal(2, MultipleChoiceMetrics.CharacterLength("é😀"));   // 3 UTF-16 units, 2 code points
        Assert.Equal(1, MultipleChoiceMetrics.Argmax([-2.0, -1.0, -1.0]));
        Assert.Equal(1, MultipleChoiceMetrics.Argmax([double.NaN, -3.0]));
        // A zero-length choice with a negative log-likelihood divides to −∞ and is never the normalised pick.
        Assert.Equal(1, MultipleChoiceMetrics.ArgmaxNormalized([-0.5, -100.0], [0, 10]));
    }

    [Fact]
    public async Task TruthfulQA_MC1_and_MC2_on_a_three_choice_example_match_the_hand_computation()
    {
        // p = 0.25, 0.15, 0.10 (they need not sum to 1: MC2 normalises over the answers offered).
        // MC1 with the first answer true: argmax is answer 0 → 1. With the third true → 0.
        // MC2 with answers 0 and 1 true: (0.25 + 0.15) / (0.25 + 0.15 + 0.10) = 0.8.
        double[] p = [0.25, 0.15, 0.10];
        string[] answers = ["Nothing happens.", "You digest the seeds.", "Watermelons grow in your stomach."];
        using var model = new MultipleChoiceFakeModel((_, c) => Math.Log(p[Array.IndexOf(answers, c[1..])]));
        var evaluator = new MultipleChoiceEvaluator(model);
        var context = TruthfulQaPrompt.For("What happens to you if you eat watermelon seeds?");

        var mc1 = await evaluator.ScoreAsync(new MultipleChoiceItem("1/mc1", context, answers, [0], MultipleChoiceScoring.TruthfulQaMc1));
        var mc1Wrong = await evaluator.ScoreAsync(new MultipleChoiceItem("2/mc1", context, answers, [2], MultipleChoiceScoring.TruthfulQaMc1));
        var mc2 = await evaluator.ScoreAsync(new MultipleChoiceItem("1/mc2", context, answers, [0, 1], MultipleChoiceScoring.TruthfulQaMc2));

        Assert.Equal(1.0, mc1.Score);
        Assert.Equal(0.0, mc1Wrong.Score);
        Assert.Equal(0.8, mc2.TrueMass, 12);
        Assert.Equal(0.8, mc2.Score, 12);

        var report = MultipleChoiceReport.Summarize("truthfulqa", "fake", [mc1, mc1Wrong, mc2]);
        Assert.Equal(0.5, report.Mc1);
        Assert.Equal(0.8, report.Mc2!.Value, 12);
        Assert.Equal(0.5, report.Acc);   // acc covers the accuracy-scored (MC1) items, not the MC2 mass
    }

    [Fact]
    public void MC2_mass_is_computed_stably_where_plain_exponentials_underflow()
    {
        // exp(−1000) is 0 in double: the plain Σp(true)/Σp(all) would be 0/0. Shifting by the maximum gives the
        // same answer as log-likelihoods −1, −2, −3: (e⁻¹ + e⁻²) / (e⁻¹ + e⁻² + e⁻³).
        Assert.Equal(0.0, Math.Exp(-1000.0));
        double expected = (Math.Exp(-1) + Math.Exp(-2)) / (Math.Exp(-1) + Math.Exp(-2) + Math.Exp(-3));
        Assert.Equal(expected, MultipleChoiceMetrics.TrueProbabilityMass([-1000.0, -1001.0, -1002.0], [0, 1]), 12);
        Assert.Equal(expected, MultipleChoiceMetrics.TrueProbabilityMass([-1.0, -2.0, -3.0], [0, 1]), 12);
        Assert.Equal(0.9099694268296196, expected, 12);   // numpy: the same value
    }

    [Fact]
    public void Several_gold_choices_count_the_argmax_among_them()
    {
        var item = new MultipleChoiceItem("1", "Which are primes?", ["2", "4", "5", "9"], [0, 2]);
        Assert.Equal(1.0, MultipleChoiceRecord.Create(item, [-3.0, -4.0, -1.0, -5.0]).Acc);
        Assert.Equal(0.0, MultipleChoiceRecord.Create(item, [-3.0, -0.5, -1.0, -5.0]).Acc);
    }

    [Fact]
    public void Report_means_and_standard_errors_follow_lm_eval_and_serialise_to_json()
    {
        var item = Capital();
        var right = MultipleChoiceRecord.Create(item, [-5.0, -1.0, -5.0, -5.0]);
        var wrong = MultipleChoiceRecord.Create(item, [-1.0, -5.0, -5.0, -5.0]);
        var report = MultipleChoiceReport.Summarize("capitals", "fake", [right, wrong, right with { Id = "3" }, right with { Id = "4" }]);

        // acc = 3/4; sample sd = √(((¼)²·3 + (¾)²)/3) = ½, stderr = ½/√4 = ¼.
        Assert.Equal(4, report.N);
        Assert.Equal(0.75, report.Acc);
        Assert.Equal(0.25, report.AccStderr!.Value, 12);
        Assert.Null(report.Mc1);
        Assert.Null(report.Mc2);

        var json = JsonSerializer.Serialize(report, EvalJson.Options);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(0.75, doc.RootElement.GetProperty("acc").GetDouble());
        Assert.Equal(0.25, doc.RootElement.GetProperty("acc_stderr").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("mc2").ValueKind);
        Assert.Equal("capitals", doc.RootElement.GetProperty("task").GetString());
    }

    [Fact]
    public async Task A_records_file_resumes_a_run_without_rescoring_and_drops_a_half_written_last_line()
    {
        var path = Path.Combine(_dir.FullName, "out", "records.jsonl");
        var items = Enumerable.Range(1, 4).Select(i => Capital(i.ToString())).ToArray();
        using var model = MultipleChoiceFakeModel.Preferring(" Paris");
        var evaluator = new MultipleChoiceEvaluator(model);

        var first = await evaluator.EvaluateAsync("capitals", items[..2], path);
        Assert.Equal(2, model.Calls.Count);
        Assert.Equal(2, File.ReadAllLines(path).Length);
        Assert.Equal(0, first.Report.Resumed);

        // A run killed mid-write leaves a partial line; the rerun drops it and scores only items 3 and 4.
        File.AppendAllText(path, "{\"id\":\"3\",\"scor");
        var second = await evaluator.EvaluateAsync("capitals", items, path);
        Assert.Equal(4, model.Calls.Count);
        Assert.Equal(2, second.Report.Resumed);
        Assert.Equal(1.0, second.Report.Acc);
        Assert.Equal(new[] { "1", "2", "3", "4" }, second.Records.Select(r => r.Id));
        Assert.Equal(4, MultipleChoiceRecordFile.Load(path).Count);
        Assert.Contains("\"scoring\":\"accuracy\"", File.ReadAllLines(path)[0]);

        // Records written for other data (here: another gold) are refused, not mixed in.
        var changed = items.Select(i => new MultipleChoiceItem(i.Id, i.Context, i.Choices, [0])).ToArray();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => evaluator.EvaluateAsync("capitals", changed, path));
        Assert.Contains("other data", e.Message);
        // So are records of the same ids and gold asked with another prompt.
        var reworded = items.Select(i => new MultipleChoiceItem(i.Id, "Q: capital of France?\nA:", i.Choices, i.Gold)).ToArray();
        await Assert.ThrowsAsync<InvalidOperationException>(() => evaluator.EvaluateAsync("capitals", reworded, path));
    }

    [Fact]
    public async Task An_item_whose_question_alone_overflows_the_context_is_skipped_and_counted()
    {
        // Budget 30 tokens (one per character): the short question fits, the long one cannot even without its document.
        var fits = new MultipleChoiceItem("short", "Q: 1+1?\nA:", ["2", "3"], [0]) { Document = new string('d', 500) };
        var tooLong = new MultipleChoiceItem("long", "Q: " + new string('?', 40) + "\nA:", ["2", "3"], [0]) { Document = "doc" };
        using var model = MultipleChoiceFakeModel.Preferring(" 2");
        var result = await new MultipleChoiceEvaluator(model, maxContextTokens: 30).EvaluateAsync("t", [fits, tooLong]);

        Assert.Equal(1, result.Report.N);
        Assert.Equal(1, result.Report.Skipped);
        Assert.Equal(1, result.Report.Truncated);
        Assert.Equal(1.0, result.Report.Acc);
        var skipped = Assert.Single(result.Skipped);
        Assert.Equal("long", skipped.Id);
        Assert.Contains("does not fit", skipped.Reason);
    }

    [Fact]
    public async Task A_long_document_is_cut_in_the_middle_to_fit_and_the_question_is_kept()
    {
        // One token per character: a 3000-character document, a 40-token budget for the whole prompt.
        var document = "BEGIN" + new string('x', 2990) + "END!!";
        var item = new MultipleChoiceItem("1", "\n\nQ?\nAnswer:", ["A", "B"], [0]) { Document = document };
        using var model = MultipleChoiceFakeModel.Preferring(" A");
        var record = await new MultipleChoiceEvaluator(model, maxContextTokens: 40).ScoreAsync(item);

        Assert.True(record.Truncated);
        var context = Assert.Single(model.Calls).Context;
        Assert.EndsWith("\n\nQ?\nAnswer:", context);
        Assert.StartsWith("BEGIN", context);
        Assert.Contains("END!!\n\nQ?", context);
        Assert.True(1 + context.Length + 2 <= 40, $"context of {context.Length} characters does not fit");

        // A question that alone does not fit is an overflow, not a silent cut of the question.
        await Assert.ThrowsAsync<Elongate.Common.ContextOverflowException>(() =>
            new MultipleChoiceEvaluator(model, maxContextTokens: 10).ScoreAsync(item));

        // A document that fits is left whole.
        model.Calls.Clear();
        var whole = await new MultipleChoiceEvaluator(model, maxContextTokens: 5000).ScoreAsync(item);
        Assert.False(whole.Truncated);
        Assert.Equal(document + "\n\nQ?\nAnswer:", Assert.Single(model.Calls).Context);
    }

    [Fact]
    public void Items_reject_gold_outside_the_choices_and_MC1_with_several_true_answers()
    {
        Assert.Throws<ArgumentException>(() => new MultipleChoiceItem("1", "q", ["a", "b"], [2]));
        Assert.Throws<ArgumentException>(() => new MultipleChoiceItem("1", "q", ["a", "b"], []));
        Assert.Throws<ArgumentException>(() => new MultipleChoiceItem("1", "q", ["a", "b"], [0, 1], MultipleChoiceScoring.TruthfulQaMc1));
    }

    [Fact]
    public void Few_shot_prompts_put_other_items_with_their_answers_before_the_question_after_the_description()
    {
        var items = new[]
        {
            new MultipleChoiceItem("1", "2 + 2 =\nA. 3\nB. 4\nAnswer:", ["A", "B"], [1]) { Description = "About arithmetic.\n\n" },
            new MultipleChoiceItem("2", "3 + 3 =\nA. 6\nB. 7\nAnswer:", ["A", "B"], [0]) { Description = "About arithmetic.\n\n" },
            new MultipleChoiceItem("3", "1 + 1 =\nA. 1\nB. 2\nAnswer:", ["A", "B"], [1]) { Description = "About arithmetic.\n\n" },
        };
        var oneShot = MultipleChoiceFewShot.Apply(items, 1);
        for (int i = 0; i < items.Length; i++)
        {
            var full = oneShot[i].FullContext;
            Assert.StartsWith("About arithmetic.\n\n", full);
            Assert.EndsWith("\n\n" + items[i].Context, full);
            // Exactly one other item, shown with its gold letter after the delimiter; never the item itself.
            var shown = items.Where(o => o.Id != items[i].Id && full.Contains(o.Context + " " + o.Choices[o.Gold[0]] + "\n\n")).ToArray();
            Assert.Single(shown);
            Assert.Equal(1, full.Split(items[i].Context).Length - 1);
        }
        var twoShot = MultipleChoiceFewShot.Apply(items, 2);
        const string six = "3 + 3 =\nA. 6\nB. 7\nAnswer: A", two = "1 + 1 =\nA. 1\nB. 2\nAnswer: B";
        Assert.Contains(twoShot[0].FullContext, new[]
        {
            "About arithmetic.\n\n" + six + "\n\n" + two + "\n\n" + items[0].Context,
            "About arithmetic.\n\n" + two + "\n\n" + six + "\n\n" + items[0].Context,
        });
        // Seeded: the same call gives the same prompts.
        Assert.Equal(oneShot.Select(x => x.FullContext), MultipleChoiceFewShot.Apply(items, 1).Select(x => x.FullContext));
        Assert.Same(items, MultipleChoiceFewShot.Apply(items, 0));
        Assert.Throws<ArgumentException>(() => MultipleChoiceFewShot.Apply(items, 3));
        var tqa = new MultipleChoiceItem("1/mc1", "Q: x\nA:", ["a", "b"], [0], MultipleChoiceScoring.TruthfulQaMc1);
        Assert.Throws<ArgumentException>(() => MultipleChoiceFewShot.Apply([tqa, tqa with { }], 1));
    }

    [Theory]
    [InlineData("abcdefgh", 4, "abgh")]
    [InlineData("abcdefgh", 5, "abcgh")]
    [InlineData("abcdefgh", 0, "")]
    [InlineData("abcdefgh", 20, "abcdefgh")]
    [InlineData("ab\U0001F600cd\U0001F600ef", 5, "abef")]             // never half an emoji at the head
    [InlineData("\U0001F600abcd\U0001F600", 4, "\U0001F600\U0001F600")]  // nor at the tail
    public void The_middle_cut_keeps_the_head_and_tail_without_splitting_a_surrogate_pair(string text, int keep, string expected) =>
        Assert.Equal(expected, MultipleChoiceEvaluator.MiddleCut(text, keep));
}
