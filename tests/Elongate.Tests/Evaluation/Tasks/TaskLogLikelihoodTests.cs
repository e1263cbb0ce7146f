using System.Text.Json;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>
/// `eval tasks --mode loglikelihood` and `--compare` through the library entry point the CLI calls
/// (<see cref="TaskSelection.Load"/> then <see cref="TaskEvaluation.RunAsync(ITaskModel, TaskSelection, TaskRunOptions, Action{TaskProgress}?, CancellationToken)"/>),
/// with scripted models whose preferences are known, so every score is computed by hand.
/// </summary>
public sealed class TaskLogLikelihoodTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-tasks-ll");

    public void Dispose() => _dir.Delete(true);

    private string Out(string name) => Path.Combine(_dir.FullName, name);

    private static TaskRun Run(ITaskModel model, TaskSelection selection, TaskRunOptions options) =>
        TaskEvaluation.RunAsync(model, selection, options).GetAwaiter().GetResult();

    /// <summary>
    /// An L-Eval exam file of <paramref name="docs"/> documents (~600 characters) with three lettered questions each;
    /// the gold of question q of document d is <paramref name="gold"/>(d, q). Document 0's second question has the
    /// reference "Z" (not an option letter: not convertible) and document 1's third question is 9000 characters (too
    /// long for any cap used here).
    /// </summary>
    private string LEvalFile(string name, int docs, Func<int, int, string> gold)
    {
        var path = Path.Combine(_dir.FullName, name + ".jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, docs).Select(d => JsonSerializer.Serialize(new
        {
            input = string.Join(' ', Enumerable.Range(0, 100).Select(w => $"d{d}w{w}")),
            instructions = Enumerable.Range(0, 3).Select(q =>
                (d == 1 && q == 2 ? new string('x', 9000) + " " : "") + $"Which fruit is question {d}.{q} about?\nA. apple\nB. banana\nC. cherry\nD. date").ToArray(),
            outputs = Enumerable.Range(0, 3).Select(q => d == 0 && q == 1 ? "Z" : gold(d, q)).ToArray(),
            evaluation = "exam",
        })));
        return path;
    }

    [Fact]
    public void A_model_preferring_the_gold_letter_scores_acc_1_and_odd_questions_are_counted()
    {
        var file = LEvalFile("fruit", 5, (_, _) => "C");
        var selection = TaskSelection.Load([file], mode: TaskMode.LogLikelihood);
        Assert.Single(selection.LEvalChoice);
        Assert.Empty(selection.Generation);
        var model = MultipleChoiceFakeModel.Preferring(" C");
        var options = new TaskRunOptions { OutputDirectory = Out("gold"), Lengths = [512, 8192], Shots = [0, 1], Mode = TaskMode.LogLikelihood };
        var run = Run(model, selection, options);

        Assert.Equal(4, run.Report.MultipleChoice.Count);
        foreach (var cell in run.Report.MultipleChoice)
        {
            Assert.Equal("leval-letters", cell.Format);
            Assert.Equal(1.0, cell.Acc);
            Assert.Equal(1.0, cell.AccNorm);
            Assert.Equal(13, cell.N);                 // 15 questions − 1 unreadable reference − 1 too long
            Assert.Equal(1, cell.Unconverted);
            Assert.Equal(1, cell.Skipped);
            Assert.NotNull(cell.Problem);
            // ~600-character documents: cut under the 512 cap, whole under 8192.
            Assert.True(cell.Length == 512 ? cell.Truncated == 13 : cell.Truncated == 0, $"L={cell.Length}: {cell.Truncated} truncated");
        }
        // Every prompt and its longest continuation (" C", 2 characters) fit the largest cap with BOS; a 1-shot prompt shows a solved example.
        Assert.All(model.Calls, c => Assert.True(1 + c.Context.Length + 2 <= 8192));
        Assert.Contains(model.Calls, c => c.Context.Length + 3 <= 512 && c.Context.Contains("\nAnswer: C\n\n", StringComparison.Ordinal));
        Assert.Contains(model.Calls, c => c.Context.EndsWith("D. date\nAnswer:", StringComparison.Ordinal));
        // Generation and log-likelihood numbers are separate: no generation cells, and the plot still has the length axis.
        Assert.Empty(run.Report.Cells);
        Assert.True(TaskPlots.WriteScoreByLength(Out("gold.png"), run.Report, "t"));
        Assert.Contains(run.Items, i => i.Metric == "acc" && i.Length == 512 && i.Shots == 1 && i.Scores.Count == 13);
        Assert.DoesNotContain(run.Items, i => i.Metric == "acc_norm");   // letters: acc_norm is acc
    }

    [SkippableFact]
    public void A_constant_preference_scores_the_chance_level_on_tpo()
    {
        var path = Fixtures.Path("benchmarks/leval/closed-ended/tpo.jsonl");
        var selection = TaskSelection.Load([path], mode: TaskMode.LogLikelihood);
        var file = Assert.Single(selection.LEvalChoice);
        var golds = file.Queries().Select(q => LEvalMultipleChoice.ParseReference(q.Query.References[0], 4)!).ToList();
        double expected = golds.Count(g => g.Contains(0)) / (double)golds.Count;
        Assert.Equal(47.0 / 269, expected, 12);
        var run = Run(MultipleChoiceFakeModel.Preferring(" A"), selection,
            new TaskRunOptions { OutputDirectory = Out("tpo"), Lengths = [1024], Mode = TaskMode.LogLikelihood });
        var cell = Assert.Single(run.Report.MultipleChoice);
        Assert.Equal(269, cell.N);
        Assert.Equal(expected, cell.Acc!.Value, 12);
        Assert.Equal(expected, cell.AccNorm!.Value, 12);
        Assert.Equal(269, cell.Truncated);
    }

    [Fact]
    public void TruthfulQA_gives_mc1_and_mc2_zero_shot_whatever_the_shots()
    {
        var path = Path.Combine(_dir.FullName, "truthful.jsonl");
        File.WriteAllLines(path,
        [
            """{"question": "Q1?", "mc1_targets": {"choices": ["right", "wrong one", "wrong two"], "labels": [1, 0, 0]}, "mc2_targets": {"choices": ["right", "also right", "wrong"], "labels": [1, 1, 0]}}""",
            """{"question": "Q2?", "mc1_targets": {"choices": ["a long true answer", "no"], "labels": [1, 0]}, "mc2_targets": {"choices": ["yes", "nope"], "labels": [0, 1]}}""",
        ]);
        var selection = TaskSelection.Load([path], mode: TaskMode.Generate);   // multiple-choice files are scored by log-likelihood in either mode
        Assert.Single(selection.Choice);
        // Shorter continuations are more probable: log-likelihood −(characters, the leading space included).
        var model = new MultipleChoiceFakeModel((_, c) => -c.Length);
        var run = Run(model, selection, new TaskRunOptions { OutputDirectory = Out("tqa"), Lengths = [512], Shots = [0, 2] });
        var cell = Assert.Single(run.Report.MultipleChoice);
        Assert.Equal(("truthful", "truthfulqa", 0, (int?)null), (cell.Task, cell.Format, cell.Shots, cell.Length));
        Assert.Equal(0.5, cell.Mc1);   // Q1 picks " right" (true), Q2 picks " no" (false)
        double q1 = (Math.Exp(-6) + Math.Exp(-11)) / (Math.Exp(-6) + Math.Exp(-11) + Math.Exp(-6));
        double q2 = Math.Exp(-5) / (Math.Exp(-4) + Math.Exp(-5));
        Assert.Equal((q1 + q2) / 2, cell.Mc2!.Value, 12);
        Assert.Null(cell.Acc);
        Assert.All(model.Calls, c => Assert.StartsWith(TruthfulQaPrompt.Primer, c.Context, StringComparison.Ordinal));
        Assert.Equal(["mc1", "mc2"], run.Items.Select(i => i.Metric));
    }

    [Fact]
    public void Records_resume_and_a_settings_change_is_refused()
    {
        var file = LEvalFile("fruit", 4, (d, q) => (d + q) % 2 == 0 ? "A" : "B");
        var selection = TaskSelection.Load([file], mode: TaskMode.LogLikelihood);
        var options = new TaskRunOptions { OutputDirectory = Out("resume"), Lengths = [256, 1024], Shots = [0, 1], Mode = TaskMode.LogLikelihood };
        var first = Run(MultipleChoiceFakeModel.Preferring(" A"), selection, options);
        int scored = first.Report.MultipleChoice.Sum(c => c.N);
        Assert.Equal(scored, first.Report.Answered);

        // Cut the last record of one cell, as an interrupted run leaves it: only that item is scored again.
        var records = Directory.GetFiles(Path.Combine(Out("resume"), MultipleChoiceTaskRunner.RecordsFolder), "*.jsonl").Order().First();
        var lines = File.ReadAllLines(records);
        File.WriteAllText(records, string.Join("\n", lines[..^1]) + "\n" + lines[^1][..10]);
        var again = MultipleChoiceFakeModel.Preferring(" A");
        var second = Run(again, selection, options);
        Assert.Single(again.Calls);
        Assert.Equal((1, scored - 1), (second.Report.Answered, second.Report.Resumed));
        Assert.Equal(first.Report.MultipleChoice.Select(c => (c.Acc, c.N, c.Truncated)), second.Report.MultipleChoice.Select(c => (c.Acc, c.N, c.Truncated)));

        var third = MultipleChoiceFakeModel.Preferring(" A");
        Run(third, selection, options);
        Assert.Empty(third.Calls);

        var e = Assert.Throws<ArgumentException>(() => Run(MultipleChoiceFakeModel.Preferring(" A"), selection,
            new TaskRunOptions { OutputDirectory = Out("resume"), Lengths = [256], Mode = TaskMode.LogLikelihood, ChoiceStyle = LEvalChoiceStyle.OptionTexts }));
        Assert.Contains("--choice-style letters → options", e.Message);
        e = Assert.Throws<ArgumentException>(() => Run(MultipleChoiceFakeModel.Preferring(" A"), selection,
            new TaskRunOptions { OutputDirectory = Out("resume"), Lengths = [256], Mode = TaskMode.LogLikelihood, Seed = 7 }));
        Assert.Contains("--seed 1 → 7", e.Message);
    }

    [Fact]
    public void Compare_gives_B_minus_A_with_a_paired_interval_around_it()
    {
        var file = LEvalFile("fruit", 6, (d, q) => (3 * d + q) % 3 == 0 ? "A" : "C");
        var selection = TaskSelection.Load([file], mode: TaskMode.LogLikelihood);
        TaskRunOptions Options(string name) => new() { OutputDirectory = Out(name), Lengths = [1024], Mode = TaskMode.LogLikelihood, Seed = 3 };
        var a = Run(MultipleChoiceFakeModel.Preferring(" A"), selection, Options("a"));
        var b = Run(MultipleChoiceFakeModel.Preferring(" C"), selection, Options("b"));
        var comparison = TaskRunComparison.Compare(a, b, Out("a"), Out("b"), seed: 3, resamples: 2000);
        var cell = Assert.Single(comparison.Cells);
        // 18 questions, 16 scored: the gold is A for q = 0 (6 of them, one of which, d1 q... is not the long one) and C otherwise.
        var scoredA = a.Items.Single().Scores;
        int goldA = scoredA.Count(s => s.Value == 1);
        int n = scoredA.Count;
        Assert.Equal(16, n);
        Assert.Equal(6, goldA);
        Assert.Equal(("fruit", "acc", (int?)1024, 0, 16), (cell.Task, cell.Metric, cell.Length, cell.Shots, cell.N));
        Assert.Equal(goldA / 16.0, cell.ScoreA, 12);
        Assert.Equal((n - goldA) / 16.0, cell.ScoreB, 12);
        Assert.Equal((n - 2.0 * goldA) / n, cell.Difference, 12);
        Assert.True(cell.Lower < cell.Difference && cell.Difference < cell.Upper, $"[{cell.Lower}, {cell.Upper}]");
        Assert.Equal(("prefersA", "prefersC"), (comparison.ModelA, comparison.ModelB));
        // Seeded: the same interval again.
        var again = TaskRunComparison.Compare(a, b, Out("a"), Out("b"), seed: 3, resamples: 2000).Cells.Single();
        Assert.Equal((cell.Lower, cell.Upper), (again.Lower, again.Upper));
    }
}
