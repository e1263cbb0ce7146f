namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One entry point for the harness: scores a prediction with the task's metric. Exam → <see cref="ExamAnswer"/>;
/// F1 → <see cref="TokenF1"/>; Rouge → <see cref="Rouge"/> without stemming (L-Eval's setting).
/// </summary>
public static class TaskScoring
{
    /// <summary>
    /// The score of <paramref name="prediction"/> against <paramref name="reference"/>.
    /// <list type="bullet">
    /// <item>Exam: <see cref="ExamAnswer.Score"/> in <paramref name="format"/>; may be unparsed.</item>
    /// <item>F1: <see cref="TokenF1.Score"/>, always parsed; Extracted is the normalized prediction.</item>
    /// <item>Rouge: Value is the ROUGE-L F-measure, whose task mean is L-Eval's reported ROUGE-L; all three scores are
    /// in <see cref="TaskScore.Rouge"/>. The benchmarks' single rouge number (L-Eval's LEval_score, ZeroSCROLLS'
    /// score) is the geometric mean of the task's mean ROUGE-1/2/L F-measures:
    /// <c>RougeScores.Mean(scores.Select(s =&gt; s.Rouge!.Value)).GeometricMean</c> (see <see cref="TaskGeometricMean"/>),
    /// not the mean of per-example geometric means, which a single example without a shared bigram drives to 0.
    /// Always parsed; Extracted is the prediction's tokens.</item>
    /// </list>
    /// </summary>
    /// <exception cref="FormatException">An exam reference cannot be read in <paramref name="format"/> (a data error, not a model error).</exception>
    public static TaskScore Score(TaskMetric metric, ExamFormat format, string prediction, string reference)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(reference);
        switch (metric)
        {
            case TaskMetric.Exam:
                return ExamAnswer.Score(format, prediction, reference);
            case TaskMetric.F1:
                return new TaskScore(TokenF1.Score(prediction, reference), true, AnswerMatch.NormalizeText(prediction));
            case TaskMetric.Rouge:
            {
                var scores = Rouge.Score(reference, prediction);
                return new TaskScore(scores.RougeL.FMeasure, true, string.Join(' ', Rouge.Tokenize(prediction))) { Rouge = scores };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown task metric");
        }
    }

    /// <summary>
    /// The score of <paramref name="prediction"/> against several acceptable references (SCROLLS/ZeroSCROLLS "outputs"),
    /// as their metric helpers aggregate: exam and F1 take the best reference (metric_max_over_ground_truths); rouge takes
    /// the maximum of each of ROUGE-1, ROUGE-2 and ROUGE-L separately (agg_fn=max per rouge type), so the three may come
    /// from different references. One reference gives exactly <see cref="Score(TaskMetric, ExamFormat, string, string)"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="references"/> is empty.</exception>
    public static TaskScore Score(TaskMetric metric, ExamFormat format, string prediction, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0) throw new ArgumentException("at least one reference is needed", nameof(references));
        var scores = references.Select(r => Score(metric, format, prediction, r)).ToArray();
        if (metric != TaskMetric.Rouge)
            // Parsed first, so a reply readable for some reference counts as parsed; then the highest value.
            return scores.OrderByDescending(s => s.Parsed).ThenByDescending(s => s.Value).First();
        static RougeScore Best(IEnumerable<RougeScore> all) => all.MaxBy(x => x.FMeasure);
        var rouge = new RougeScores(
            Best(scores.Select(s => s.Rouge!.Value.Rouge1)),
            Best(scores.Select(s => s.Rouge!.Value.Rouge2)),
            Best(scores.Select(s => s.Rouge!.Value.RougeL)));
        return scores[0] with { Value = rouge.RougeL.FMeasure, Rouge = rouge };
    }

    /// <summary>The benchmarks' rouge task score: the geometric mean of the mean ROUGE-1/2/L F-measures of <paramref name="scores"/> (those carrying <see cref="TaskScore.Rouge"/>).</summary>
    public static double TaskGeometricMean(IEnumerable<TaskScore> scores) =>
        RougeScores.Mean(scores.Where(s => s.Rouge is not null).Select(s => s.Rouge!.Value)).GeometricMean;

    /// <summary>L-Eval's "evaluation" field ("exam", "f1", "rouge", any case) as a metric; false for others (L-Eval also has "human" and "LLM", which have no automatic scorer).</summary>
    public static bool TryParseMetric(string? evaluation, out TaskMetric metric)
    {
        switch (evaluation?.Trim().ToLowerInvariant())
        {
            case "exam": metric = TaskMetric.Exam; return true;
            case "f1": metric = TaskMetric.F1; return true;
            case "rouge": metric = TaskMetric.Rouge; return true;
            default: metric = default; return false;
        }
    }
}
