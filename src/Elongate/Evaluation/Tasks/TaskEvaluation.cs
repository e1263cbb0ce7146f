using System.Diagnostics;
using System.Globalization;
using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Runs long-document tasks against an <see cref="ITaskModel"/>: for each file × shot count × length cap × question
/// (the first <see cref="TaskRunOptions.Limit"/> of each file), builds the prompt (<see cref="TaskPromptBuilder"/>),
/// generates greedily with the template's answer budget and stop strings, scores the answer and appends the result
/// to results.jsonl in the output folder. Questions already in that file are skipped, so a run that was stopped
/// picks up where it stopped and its report equals an uninterrupted run's.
/// <para>
/// Answer extraction: the model's reply ends before the template's first stop string and is trimmed of surrounding
/// white space; that text is the prediction. The scorer then reads it by the task's metric:
/// <see cref="TaskScoring.Score(TaskMetric, ExamFormat, string, IReadOnlyList{string})"/> with the exam format <see cref="ExamAnswer.FormatFor"/> gives for the task and
/// reference (option letters for tpo/coursera/QuALITY, True/False for sci_fi, a number for gsm100, the text for
/// topic retrieval), token F1 for f1 tasks and ROUGE for rouge tasks. With several references the best reference
/// counts (for rouge, the best of each ROUGE type).
/// An answer the scorer cannot read scores 0 and is counted as unparsed.
/// </para>
/// <para>
/// A prompt whose non-document part (question, examples' questions and answers) and answer budget exceed the model's
/// context is not sent: it is recorded with an error, scores 0 and counts as unparsed. A prompt the model refuses
/// with <see cref="Common.ContextOverflowException"/> (a chat template that counts more tokens than the harness
/// measured) is rebuilt for a cap smaller by the excess and retried, twice; if it still does not fit, the question is
/// recorded with its error, scores 0 and counts as unparsed, and the run goes on.
/// </para>
/// </summary>
public static class TaskEvaluation
{
    /// <summary>Per-example results (JSON Lines, appended).</summary>
    public const string ResultsFileName = "results.jsonl";

    /// <summary>The settings the results depend on.</summary>
    public const string SettingsFileName = "run.json";

    /// <summary>The summary.</summary>
    public const string ReportFileName = "report.json";

    /// <summary>Score against input length per task.</summary>
    public const string PlotFileName = "scores.png";

    private const int OverflowRetries = 2;

    /// <summary>Answers every question not yet in the results file, then writes report.json and returns the report.</summary>
    /// <exception cref="ArgumentException">Bad options, or an output folder holding a run with other settings.</exception>
    /// <exception cref="TaskDataException">A results file with a line that is not a result.</exception>
    public static async Task<TaskReport> RunAsync(ITaskModel model, IReadOnlyList<TaskFile> files, TaskRunOptions options,
        Action<TaskProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (files.Count == 0) throw new ArgumentException("--tasks: no task files");
        var run = await RunAsync(model, new TaskSelection(files, [], []), options, progress, cancellationToken).ConfigureAwait(false);
        return run.Report;
    }

    /// <summary>
    /// Runs every file of <paramref name="selection"/>: the generation files question by question into results.jsonl,
    /// then the log-likelihood cells (<see cref="MultipleChoiceTaskRunner"/>) into mc/; writes report.json and returns
    /// the report with the per-item scores a comparison pairs. What an earlier run in the same folder recorded is
    /// reused; a folder holding a run with other settings (run.json) is refused before anything is scored.
    /// </summary>
    /// <exception cref="ArgumentException">Bad options, no files, or an output folder holding a run with other settings.</exception>
    /// <exception cref="TaskDataException">A results or records file that does not belong to these files.</exception>
    public static async Task<TaskRun> RunAsync(ITaskModel model, TaskSelection selection, TaskRunOptions options,
        Action<TaskProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var files = selection.Generation;
        if (files.Count + selection.LEvalChoice.Count + selection.Choice.Count == 0) throw new ArgumentException("--tasks: no task files");
        var builder = new TaskPromptBuilder(model, options.Prompts, options.Truncation, options.Chat);
        var plan = Plan(files, options).ToList();
        // Every check before the output folder is touched, so a refused run leaves nothing that blocks the corrected one.
        CheckReferences(plan.Select(p => (p.File, p.Document, p.Query)).Distinct());
        CheckRoom(model, builder, files, options);
        MultipleChoiceTaskRunner.Check(selection, options);

        var dir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(dir);
        using var results = new TaskResultsFile(Path.Combine(dir, ResultsFileName));
        var done = new Dictionary<(string, int, int, int, int), TaskExampleResult>();
        var earlier = results.Load();
        foreach (var r in earlier) done.TryAdd(r.Key, r);
        var records = Path.Combine(dir, MultipleChoiceTaskRunner.RecordsFolder);
        bool hasRecords = Directory.Exists(records) && Directory.EnumerateFiles(records, "*.jsonl").Any(f => new FileInfo(f).Length > 0);
        new TaskRunSettings(model.Name, model.ContextLength, Name(options.Truncation), options.Chat, options.Seed, options.Prompts.Fingerprint(),
                Name(options.Mode), Name(options.ChoiceStyle))
            .WriteOrCheck(Path.Combine(dir, SettingsFileName), hasResults: earlier.Count > 0 || hasRecords);
        var kept = new List<TaskExampleResult>(plan.Count);
        int total = plan.Count + MultipleChoiceTaskRunner.Count(selection, options);
        int count = 0, resumed = 0, answered = 0;
        foreach (var (file, shots, length, document, query) in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = (file.Name, document.Index, query.Index, shots, length);
            TaskExampleResult? fresh = null;
            if (done.TryGetValue(key, out var old))
            {
                // The key is positional; a task file edited since the earlier run would pair old answers with new questions.
                if (old.Id != query.Id || !old.References.SequenceEqual(query.References))
                    throw new TaskDataException(results.Path,
                        $"the saved answer to {file.Name} document {document.Index} question {query.Index} was made for question {old.Id}, but {file.Path} now has question {query.Id} with other references there: the task file changed since that run; give another --out");
                kept.Add(old);
                resumed++;
            }
            else
            {
                fresh = await AnswerAsync(model, builder, file, document, query, shots, length, options, cancellationToken).ConfigureAwait(false);
                results.Append(fresh);
                kept.Add(fresh);
                answered++;
            }
            progress?.Invoke(new TaskProgress(++count, total, resumed, file.Name, length, shots, fresh));
        }
        var mc = await MultipleChoiceTaskRunner.RunAsync(model, selection, options, dir, count, total,
            progress is null ? null : p => progress(p with { Resumed = p.Resumed + resumed }), cancellationToken).ConfigureAwait(false);
        var report = Summarize(model, files, options, kept, results.Path, answered + mc.Answered, resumed + mc.Resumed) with { MultipleChoice = mc.Cells };
        EvalJson.Write(Path.Combine(dir, ReportFileName), report);
        return new TaskRun(report, [.. GenerationScores(files, options, kept), .. mc.Items]);
    }

    /// <summary>Per-answer scores of the generation cells, keyed by "document:question" (rouge tasks: the answer's ROUGE-L F-measure).</summary>
    private static IEnumerable<TaskItemScores> GenerationScores(IReadOnlyList<TaskFile> files, TaskRunOptions options, IReadOnlyList<TaskExampleResult> results)
    {
        foreach (var file in files)
            foreach (var shots in options.Shots)
                foreach (var length in options.Lengths)
                {
                    var rs = results.Where(r => r.Task == file.Name && r.Shots == shots && r.Length == length).ToList();
                    if (rs.Count == 0) continue;
                    yield return new TaskItemScores(file.Name, file.Metric == TaskMetric.Rouge ? "rouge-l" : Name(file.Metric), length, shots,
                        rs.ToDictionary(r => string.Create(CultureInfo.InvariantCulture, $"{r.Document}:{r.Query}"), r => r.Score, StringComparer.Ordinal));
                }
    }

    /// <summary>Every (file, shots, length, document, question) of the run, in the order asked: a cell's questions together.</summary>
    public static IEnumerable<(TaskFile File, int Shots, int Length, TaskDocument Document, TaskQuery Query)> Plan(IReadOnlyList<TaskFile> files, TaskRunOptions options)
    {
        foreach (var file in files)
            foreach (var shots in options.Shots)
                foreach (var length in options.Lengths)
                    foreach (var (document, query) in file.Queries(options.Limit))
                        yield return (file, shots, length, document, query);
    }

    /// <summary>Asks one question and scores the answer.</summary>
    public static async Task<TaskExampleResult> AnswerAsync(ITaskModel model, TaskPromptBuilder builder, TaskFile file, TaskDocument document, TaskQuery query,
        int shots, int length, TaskRunOptions options, CancellationToken cancellationToken = default)
    {
        var examples = TaskExampleSampler.Select(file, document, query, shots, options.Seed);
        int cap = Math.Min(length, model.ContextLength);
        var metric = Name(file.Metric);
        for (int attempt = 0; ; attempt++)
        {
            var prompt = builder.Build(file, document, query, examples, cap);
            int needed = prompt.Tokens + builder.Reserve + prompt.Template.MaxNewTokens;
            if (prompt.OverBudget && needed > model.ContextLength)
            {
                // Even without its document the prompt cannot fit: record it as unanswerable rather than send a request every server refuses.
                return new TaskExampleResult(file.Name, document.Index, query.Index, query.Id, shots, length, metric, prompt.Examples.Count,
                    prompt.Tokens + builder.Reserve, 0, prompt.DocumentTokens, prompt.KeptDocumentTokens, prompt.Truncated, prompt.OverBudget,
                    "", query.References, null, 0, null, null, null, false, 0,
                    $"the prompt without its document ({prompt.Tokens} tokens) plus the {prompt.Template.MaxNewTokens}-token answer budget exceed the model's {model.ContextLength}-token context");
            }
            var request = new TaskGenerationRequest(prompt.Text, prompt.Template.MaxNewTokens, prompt.Template.Stop, options.Chat);
            var watch = Stopwatch.StartNew();
            TaskGeneration generation;
            try
            {
                generation = await model.GenerateAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (ContextOverflowException e) when (attempt < OverflowRetries && !prompt.OverBudget)
            {
                // The model counted more tokens than the builder measured (chat markup, a different BOS rule): shrink the cap by the excess.
                cap -= Math.Max(1, e.PromptTokens + e.MaxTokens - e.ContextLength) + 8;
                continue;
            }
            catch (ContextOverflowException e)
            {
                return new TaskExampleResult(file.Name, document.Index, query.Index, query.Id, shots, length, metric, prompt.Examples.Count,
                    e.PromptTokens, 0, prompt.DocumentTokens, prompt.KeptDocumentTokens, prompt.Truncated, prompt.OverBudget,
                    "", query.References, null, 0, null, null, null, false, watch.Elapsed.TotalSeconds, e.Message);
            }
            var prediction = generation.Text.Trim();
            var score = Best(file, prediction, query.References);
            return new TaskExampleResult(file.Name, document.Index, query.Index, query.Id, shots, length, metric, prompt.Examples.Count,
                generation.PromptTokens, generation.GeneratedTokens, prompt.DocumentTokens, prompt.KeptDocumentTokens, prompt.Truncated, prompt.OverBudget,
                prediction, query.References, score.Extracted, score.Value, score.Rouge?.Rouge1.FMeasure, score.Rouge?.Rouge2.FMeasure, score.Rouge?.RougeL.FMeasure,
                score.Parsed, watch.Elapsed.TotalSeconds, null);
        }
    }

    /// <summary>
    /// The prediction's score against the question's references, in the exam format of its first reference, as
    /// <see cref="TaskScoring.Score(TaskMetric, ExamFormat, string, IReadOnlyList{string})"/> aggregates several:
    /// the best reference for exam and f1, the maximum of each ROUGE type for rouge.
    /// </summary>
    public static TaskScore Best(TaskFile file, string prediction, IReadOnlyList<string> references)
    {
        if (references.Count == 0) throw new ArgumentException($"{file.Name}: a question without references");
        return TaskScoring.Score(file.Metric, ExamAnswer.FormatFor(file.Name, references[0]), prediction, references);
    }

    /// <summary>
    /// Scores every reference against itself before any question is asked, so a reference the scorer cannot read
    /// (an exam reference without an option letter, say) stops the run at once with its file and line, not hours in.
    /// </summary>
    /// <exception cref="TaskDataException">A reference the task's scorer rejects.</exception>
    public static void CheckReferences(IEnumerable<(TaskFile File, TaskDocument Document, TaskQuery Query)> questions)
    {
        foreach (var (file, document, query) in questions)
            foreach (var reference in query.References)
            {
                var format = ExamAnswer.FormatFor(file.Name, reference);
                try
                {
                    TaskScoring.Score(file.Metric, format, reference, reference);
                }
                catch (FormatException e)
                {
                    throw new TaskDataException(file.Path, document.LineNumber,
                        $"question {query.Index} ({query.Id}): the {Name(file.Metric)} scorer cannot read its reference as {format}: {e.Message}", inner: e);
                }
            }
    }

    /// <summary>Fewest prompt tokens a length cap must leave after the answer budget for a question to be worth asking.</summary>
    public const int MinPromptTokens = 32;

    /// <summary>
    /// Refuses lengths that leave (almost) no room for the prompt after a task's answer budget — a 512-token summary
    /// budget under a 256-token cap — before anything runs, naming the task, the template and its budget.
    /// </summary>
    /// <exception cref="ArgumentException">A length too short for a task's answer budget.</exception>
    public static void CheckRoom(ITaskModel model, TaskPromptBuilder builder, IReadOnlyList<TaskFile> files, TaskRunOptions options)
    {
        foreach (var file in files)
            foreach (var template in file.Queries(options.Limit).Select(q => builder.TemplateFor(file, q.Query)).Distinct())
                foreach (var length in options.Lengths)
                {
                    int cap = Math.Min(length, model.ContextLength);
                    int room = cap - template.MaxNewTokens - builder.Reserve;
                    if (room < MinPromptTokens)
                        throw new ArgumentException(
                            $"length {length} (capped to {cap} by the model) leaves {room} tokens for the prompt of task {file.Name} after its {template.MaxNewTokens}-token answer budget ({template.Source}); "
                            + $"use lengths of at least {template.MaxNewTokens + builder.Reserve + MinPromptTokens}, or a smaller max_new_tokens through --prompts");
                }
    }

    /// <summary>The report of <paramref name="results"/> (the run's questions, in plan order).</summary>
    public static TaskReport Summarize(ITaskModel model, IReadOnlyList<TaskFile> files, TaskRunOptions options, IReadOnlyList<TaskExampleResult> results,
        string resultsPath, int answered, int resumed)
    {
        var cells = new List<TaskCell>();
        foreach (var file in files)
            foreach (var shots in options.Shots)
                foreach (var length in options.Lengths)
                {
                    var rs = results.Where(r => r.Task == file.Name && r.Shots == shots && r.Length == length).ToList();
                    if (rs.Count == 0) continue;
                    double? r1 = null, r2 = null, rl = null;
                    double score = rs.Average(r => r.Score);
                    if (file.Metric == TaskMetric.Rouge)
                    {
                        // The benchmarks' rouge number: the geometric mean of the task's mean F-measures (an unanswered question counts 0).
                        r1 = rs.Average(r => r.Rouge1 ?? 0);
                        r2 = rs.Average(r => r.Rouge2 ?? 0);
                        rl = rs.Average(r => r.RougeL ?? 0);
                        score = Math.Cbrt(r1.Value * r2.Value * rl.Value);
                    }
                    cells.Add(new TaskCell(file.Name, Name(file.Metric), length, shots, rs.Count, score, r1, r2, rl,
                        rs.Count(r => !r.Parsed), rs.Count(r => r.Truncated), rs.Count(r => r.OverBudget), rs.Count(r => r.Error is not null),
                        rs.Sum(r => (long)r.PromptTokens), rs.Sum(r => (long)r.GeneratedTokens), rs.Sum(r => r.Seconds)));
                }
        var overall = new List<TaskOverall>();
        foreach (var shots in options.Shots)
            foreach (var length in options.Lengths)
            {
                var cs = cells.Where(c => c.Shots == shots && c.Length == length).ToList();
                if (cs.Count == 0) continue;
                overall.Add(new TaskOverall(length, shots, cs.Count, cs.Sum(c => c.N), cs.Average(c => c.Score), cs.Sum(c => c.Unparsed),
                    cs.Sum(c => c.Truncated), cs.Sum(c => c.OverBudget), cs.Sum(c => c.Errors), cs.Sum(c => c.PromptTokens), cs.Sum(c => c.GeneratedTokens), cs.Sum(c => c.Seconds)));
            }
        return new TaskReport(model.Name, model.ContextLength, Name(options.Truncation), options.Chat, options.Seed, options.Limit,
            options.Lengths, options.Shots, resultsPath, answered, resumed, cells, overall);
    }

    /// <summary>"exam", "f1" or "rouge".</summary>
    public static string Name(TaskMetric metric) => metric.ToString().ToLowerInvariant();

    /// <summary>"middle" or "left".</summary>
    public static string Name(TaskTruncation truncation) => truncation.ToString().ToLowerInvariant();

    /// <summary>"generate" or "loglikelihood".</summary>
    public static string Name(TaskMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>"letters" or "options".</summary>
    public static string Name(LEvalChoiceStyle style) => style == LEvalChoiceStyle.Letters ? "letters" : "options";
}
