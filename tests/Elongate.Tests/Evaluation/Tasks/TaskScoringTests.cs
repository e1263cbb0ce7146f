using System.Text.Json;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

public class TaskScoringTests
{
    [Fact]
    public void Dispatches_each_metric_to_its_scorer()
    {
        Assert.Equal(new TaskScore(0.25, true, "A"), TaskScoring.Score(TaskMetric.Exam, ExamFormat.Letters, "A", "AC"));
        Assert.Equal(TaskScore.Unparsed, TaskScoring.Score(TaskMetric.Exam, ExamFormat.Number, "no idea", "18"));

        var f1 = TaskScoring.Score(TaskMetric.F1, ExamFormat.Text, "The cat sat.", "a cat sat down");
        Assert.Equal(0.8, f1.Value, 12);
        Assert.True(f1.Parsed);
        Assert.Equal("cat sat", f1.Extracted);
        Assert.Null(f1.Rouge);
        // F1 has no format to read: an empty reply is a parsed 0.
        Assert.Equal(new TaskScore(0, true, ""), TaskScoring.Score(TaskMetric.F1, ExamFormat.Text, "", "cat"));

        const string reference = "The quick brown fox jumps over the lazy dog", prediction = "The quick brown dog jumps on the log.";
        var rouge = TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, prediction, reference);
        var expected = Rouge.Score(reference, prediction);
        Assert.Equal(expected.RougeL.FMeasure, rouge.Value, 12); // ROUGE-L F, L-Eval's rougeL column
        Assert.Equal(expected, rouge.Rouge);
        Assert.True(rouge.Parsed);
        Assert.Equal("the quick brown dog jumps on the log", rouge.Extracted);
        // L-Eval scores rouge without stemming: "jumps" and "jump" differ.
        Assert.Equal(0, TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "jump", "jumps").Value);
    }

    [Fact]
    public void Several_references_take_the_best_and_rouge_takes_each_type_separately()
    {
        Assert.Equal(1.0, TaskScoring.Score(TaskMetric.F1, ExamFormat.Text, "Paris", ["London", "paris"]).Value, 12);
        Assert.Equal(new TaskScore(1, true, "18"), TaskScoring.Score(TaskMetric.Exam, ExamFormat.Number, "The answer is 18", ["17", "18"]));
        Assert.Equal(TaskScore.Unparsed, TaskScoring.Score(TaskMetric.Exam, ExamFormat.Number, "no idea", ["17", "18"]));
        Assert.Throws<ArgumentException>(() => TaskScoring.Score(TaskMetric.F1, ExamFormat.Text, "x", Array.Empty<string>()));
        // "a b c d" vs "d c b a": R1 F 1, R2 0, RL 1/4; vs "a b x y": R1 F 1/2, R2 F 1/3, RL F 1/2.
        var s = TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "a b c d", ["d c b a", "a b x y"]);
        Assert.Equal(1.0, s.Rouge!.Value.Rouge1.FMeasure, 12);
        Assert.Equal(1.0 / 3, s.Rouge.Value.Rouge2.FMeasure, 12);
        Assert.Equal(0.5, s.Rouge.Value.RougeL.FMeasure, 12);
        Assert.Equal(0.5, s.Value, 12);
        Assert.Equal(TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "a b c d", "a b x y"),
            TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "a b c d", ["a b x y"]));
    }

    [Fact]
    public void Task_geometric_mean_is_taken_over_mean_f_measures()
    {
        var scores = new[]
        {
            TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "a b c d", "a b c d"),  // all 1
            TaskScoring.Score(TaskMetric.Rouge, ExamFormat.Text, "d c b a", "a b c d"),  // R1 1, R2 0, RL 1/4
            TaskScoring.Score(TaskMetric.F1, ExamFormat.Text, "x", "y"),                 // no ROUGE: ignored
        };
        Assert.Equal(Math.Pow(1.0 * 0.5 * 0.625, 1.0 / 3), TaskScoring.TaskGeometricMean(scores), 12);
    }

    [Theory]
    [InlineData("exam", TaskMetric.Exam)]
    [InlineData("F1", TaskMetric.F1)]
    [InlineData(" rouge ", TaskMetric.Rouge)]
    public void Parses_l_evals_evaluation_field(string field, TaskMetric metric)
    {
        Assert.True(TaskScoring.TryParseMetric(field, out var parsed));
        Assert.Equal(metric, parsed);
    }

    [Theory]
    [InlineData("human")]
    [InlineData("LLM")]
    [InlineData(null)]
    public void Evaluations_without_an_automatic_scorer_are_refused(string? field) =>
        Assert.False(TaskScoring.TryParseMetric(field, out _));

    // The harness's precondition: an oracle answering with the reference scores 100 % on every fixture L-Eval file.
    [Fact]
    public void Every_fixture_reference_scores_one_against_itself()
    {
        var root = Fixtures.Path("benchmarks/leval");
        var files = Directory.GetFiles(root, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var seen = new HashSet<TaskMetric>();
        var formats = new HashSet<ExamFormat>();
        int checkedAnswers = 0;
        foreach (var file in files)
        {
            int lineNo = 0;
            foreach (var line in File.ReadLines(file))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var doc = JsonDocument.Parse(line);
                var evaluation = doc.RootElement.GetProperty("evaluation").GetString();
                if (!TaskScoring.TryParseMetric(evaluation, out var metric))
                {
                    // L-Eval's "human" and "LLM" lines are judged by people or GPT-4; auto_eval.py skips them too.
                    Assert.Contains(evaluation, new[] { "human", "LLM" });
                    continue;
                }
                seen.Add(metric);
                foreach (var output in doc.RootElement.GetProperty("outputs").EnumerateArray())
                {
                    var reference = output.GetString()!;
                    var format = ExamAnswer.FormatFor(file, reference);
                    if (metric == TaskMetric.Exam) formats.Add(format);
                    var score = TaskScoring.Score(metric, format, reference, reference);
                    Assert.True(score.Parsed, $"{file}:{lineNo}: '{reference}' unparsed as {format}");
                    Assert.True(Math.Abs(score.Value - 1) < 1e-12, $"{file}:{lineNo}: '{reference}' scores {score.Value} as {metric}/{format}");
                    checkedAnswers++;
                }
            }
        }
        Assert.Equal([TaskMetric.Exam, TaskMetric.F1, TaskMetric.Rouge], seen.Order());
        Assert.Equal(Enum.GetValues<ExamFormat>(), formats.Order());
        Assert.True(checkedAnswers > 500, $"only {checkedAnswers} reference answers checked");
    }

    [Theory]
    [InlineData("closed-ended/tpo.jsonl", ExamFormat.Letter)]
    [InlineData("closed-ended/coursera.jsonl", ExamFormat.Letters)]
    [InlineData("closed-ended/sci_fi.jsonl", ExamFormat.TrueFalse)]
    [InlineData("closed-ended/gsm100.jsonl", ExamFormat.Number)]
    [InlineData("closed-ended/topic_retrieval_longchat.jsonl", ExamFormat.Text)]
    public void Fixture_exam_files_get_their_format_and_wrong_answers_score_zero(string relative, ExamFormat format)
    {
        var file = Fixtures.Path("benchmarks/leval/" + relative);
        var references = File.ReadLines(file).Where(l => l.Length > 0)
            .SelectMany(l => JsonDocument.Parse(l).RootElement.GetProperty("outputs").EnumerateArray().Select(o => o.GetString()!))
            .ToArray();
        Assert.All(references, r => Assert.Equal(format, ExamAnswer.FormatFor(file, r)));
        // A reply that is some other reference of the same file scores below 1 whenever the two answers differ.
        var distinct = references.Select(r => format == ExamFormat.TrueFalse ? r.Split(' ')[0] : r).Distinct().ToArray();
        Assert.True(distinct.Length > 1);
        var wrong = TaskScoring.Score(TaskMetric.Exam, format, distinct[1], distinct[0]);
        Assert.True(wrong.Parsed);
        Assert.True(wrong.Value < 1, $"'{distinct[1]}' against '{distinct[0]}' scored {wrong.Value}");
    }
}
