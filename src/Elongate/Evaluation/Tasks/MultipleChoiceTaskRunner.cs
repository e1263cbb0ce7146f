using System.Diagnostics;
using System.Globalization;
using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The log-likelihood part of a task run (<see cref="TaskEvaluation.RunAsync(ITaskModel, TaskSelection, TaskRunOptions, Action{TaskProgress}?, CancellationToken)"/>):
/// L-Eval exam files at each length cap and shot count (<see cref="LEvalChoicePromptBuilder"/>, few-shot examples from
/// other documents by <see cref="TaskExampleSampler"/>), and multiple-choice files once per shot count within the
/// model's context (few-shot by <see cref="MultipleChoiceFewShot"/>; TruthfulQA zero-shot after its primer). Each cell
/// has its own records file under mc/ in the output folder, appended per item; items already recorded with the same
/// prompt, choices and gold are taken from it (resume), a record that differs is an error. Items that cannot be
/// scored (options unreadable, too long for the cap) are counted, never fatal.
/// </summary>
public static class MultipleChoiceTaskRunner
{
    /// <summary>Folder of the records files inside the output folder.</summary>
    public const string RecordsFolder = "mc";

    private const int OverflowRetries = 2;

    /// <summary>One cell of the plan: what to score and where its records go.</summary>
    private sealed record Cell(string Task, string Format, int? Length, int Shots, string Records, Func<int, LEvalChoicePrompt>[] Items);

    /// <summary>Items the run will visit (for progress totals).</summary>
    public static int Count(TaskSelection selection, TaskRunOptions options) =>
        selection.LEvalChoice.Sum(f => f.Queries(options.Limit).Count()) * options.Shots.Count * options.Lengths.Count
        + selection.Choice.Sum(f => ShotsFor(f, options).Count * Limited(f.Items, options.Limit).Count());

    /// <summary>The shot counts a multiple-choice file is scored at: TruthfulQA only zero-shot (its prompt is a fixed primer).</summary>
    public static IReadOnlyList<int> ShotsFor(MultipleChoiceFile file, TaskRunOptions options) =>
        file.Items.Any(i => i.Scoring != MultipleChoiceScoring.Accuracy) ? [0] : options.Shots;

    /// <summary>
    /// Checks what can be checked before the output folder is touched: every multiple-choice file has enough items
    /// for its few-shot counts.
    /// </summary>
    /// <exception cref="ArgumentException">A file with no more items than a shot count.</exception>
    public static void Check(TaskSelection selection, TaskRunOptions options)
    {
        foreach (var file in selection.Choice)
            foreach (var shots in ShotsFor(file, options))
                if (shots > 0 && file.Items.Count <= shots)
                    throw new ArgumentException($"{file.Path}: {shots}-shot prompts need at least {shots + 1} items, the file has {file.Items.Count}");
    }

    /// <summary>Scores every cell, appending to the records files in <paramref name="directory"/>; returns the cells, the per-item scores and how many items were scored now and taken from earlier runs.</summary>
    /// <exception cref="TaskDataException">A records file whose record of an item was made for another prompt, choices or gold.</exception>
    /// <exception cref="MultipleChoiceDataException">A records file with a line that is not a record.</exception>
    public static async Task<(IReadOnlyList<MultipleChoiceCell> Cells, IReadOnlyList<TaskItemScores> Items, int Answered, int Resumed)> RunAsync(
        ITaskModel model, TaskSelection selection, TaskRunOptions options, string directory, int done, int total,
        Action<TaskProgress>? progress, CancellationToken cancellationToken)
    {
        var cells = new List<MultipleChoiceCell>();
        var items = new List<TaskItemScores>();
        int answered = 0, resumedAll = 0;
        foreach (var cell in Plan(model, selection, options, directory))
        {
            var watch = Stopwatch.StartNew();
            var earlier = MultipleChoiceRecordFile.Load(cell.Records);
            var records = new List<MultipleChoiceRecord>();
            int skipped = 0, unconverted = 0, resumed = 0;
            long promptTokens = 0;
            string? problem = null;
            int cap = cell.Length is { } l ? Math.Min(l, model.ContextLength) : model.ContextLength;
            for (int i = 0; i < cell.Items.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var record = await ScoreAsync(model, cell, i, cap, earlier, cancellationToken).ConfigureAwait(false);
                switch (record)
                {
                    case { Record: { } r, Resumed: true }:
                        records.Add(r);
                        resumed++;
                        break;
                    case { Record: { } r, Tokens: var t }:
                        MultipleChoiceRecordFile.Append(cell.Records, r);
                        records.Add(r);
                        promptTokens += t;
                        answered++;
                        break;
                    case { Unconverted: true }:
                        unconverted++;
                        problem ??= record.Problem;
                        break;
                    default:
                        skipped++;
                        problem ??= record.Problem;
                        break;
                }
                bool last = i == cell.Items.Length - 1;
                var summary = MultipleChoiceReport.Summarize(cell.Task, model.Name, records, skipped, resumed);
                progress?.Invoke(new TaskProgress(++done, total, resumedAll + resumed, cell.Task, cell.Length ?? cap, cell.Shots, null)
                {
                    CellSummary = last ? Describe(summary, records.Count, skipped, unconverted) : null,
                });
            }
            resumedAll += resumed;
            var report = MultipleChoiceReport.Summarize(cell.Task, model.Name, records, skipped, resumed);
            // acc is for plain questions; TruthfulQA's MC1 (which the library's report also counts as accuracy) has its own column.
            bool plain = records.Any(r => r.Scoring == MultipleChoiceScoring.Accuracy);
            cells.Add(new MultipleChoiceCell(cell.Task, cell.Format, cell.Length, cell.Shots, records.Count, plain ? report.Acc : null, plain ? report.AccNorm : null, report.Mc1, report.Mc2,
                report.MultiGold, report.Truncated, skipped, unconverted, resumed, problem, cell.Records, promptTokens, watch.Elapsed.TotalSeconds));
            items.AddRange(ItemScores(cell.Task, cell.Length, cell.Shots, records));
        }
        return (cells, items, answered, resumedAll);
    }

    /// <summary>"acc 25.0%, acc_norm 30.0%" and the counts, for a progress line.</summary>
    private static string Describe(MultipleChoiceReport r, int n, int skipped, int unconverted)
    {
        var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{n} items") };
        void Add(string name, double? v) { if (v is { } x) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {x * 100:F1}%")); }
        if (r.Mc1 is null)
        {
            Add("acc", r.Acc);
            Add("acc_norm", r.AccNorm);
        }
        Add("mc1", r.Mc1);
        Add("mc2", r.Mc2);
        if (skipped > 0) parts.Add($"{skipped} skipped");
        if (unconverted > 0) parts.Add($"{unconverted} not convertible");
        return string.Join(", ", parts);
    }

    /// <summary>The per-item scores of one cell: acc (and acc_norm where the choices differ in length), mc1, mc2.</summary>
    public static IEnumerable<TaskItemScores> ItemScores(string task, int? length, int shots, IReadOnlyList<MultipleChoiceRecord> records)
    {
        var acc = records.Where(r => r.Scoring == MultipleChoiceScoring.Accuracy).ToList();
        if (acc.Count > 0)
        {
            yield return new TaskItemScores(task, "acc", length, shots, acc.ToDictionary(r => r.Id, r => r.Acc, StringComparer.Ordinal));
            if (acc.Any(r => r.ChoiceLengths.Distinct().Count() > 1))
                yield return new TaskItemScores(task, "acc_norm", length, shots, acc.ToDictionary(r => r.Id, r => r.AccNorm, StringComparer.Ordinal));
        }
        var mc1 = records.Where(r => r.Scoring == MultipleChoiceScoring.TruthfulQaMc1).ToList();
        if (mc1.Count > 0) yield return new TaskItemScores(task, "mc1", length, shots, mc1.ToDictionary(r => r.Id, r => r.Acc, StringComparer.Ordinal));
        var mc2 = records.Where(r => r.Scoring == MultipleChoiceScoring.TruthfulQaMc2 && double.IsFinite(r.TrueMass)).ToList();
        if (mc2.Count > 0) yield return new TaskItemScores(task, "mc2", length, shots, mc2.ToDictionary(r => r.Id, r => r.TrueMass, StringComparer.Ordinal));
    }

    private sealed record Outcome(MultipleChoiceRecord? Record, bool Resumed, int Tokens, bool Unconverted, string? Problem);

    /// <summary>Item <paramref name="index"/> of the cell: from the records when there, else scored; a model that still counts too many tokens gets a cap smaller by the excess, twice.</summary>
    private static async Task<Outcome> ScoreAsync(ITaskModel model, Cell cell, int index, int cap, Dictionary<string, MultipleChoiceRecord> earlier, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            var prompt = cell.Items[index](cap);
            if (prompt.Item is not { } item) return new Outcome(null, false, 0, prompt.Unconverted, prompt.Problem);
            if (earlier.TryGetValue(item.Id, out var old))
            {
                if (old.Scoring != item.Scoring || !old.Gold.SequenceEqual(item.Gold) || old.PromptHash != MultipleChoiceRecord.HashPrompt(item))
                    throw new TaskDataException(cell.Records,
                        $"the record of {cell.Task} item {item.Id} was made for another prompt, choices or gold than the item has now (the task file or the model's tokenizer changed since that run); give another --out");
                return new Outcome(old, true, 0, false, null);
            }
            IReadOnlyList<ContinuationScore> scores;
            try
            {
                scores = await model.ScoreAsync(item.FullContext, item.Continuations, cancellationToken).ConfigureAwait(false);
            }
            catch (ContextOverflowException e) when (attempt < OverflowRetries && cell.Length is not null)
            {
                cap -= Math.Max(1, e.PromptTokens + e.MaxTokens - e.ContextLength) + 1;
                continue;
            }
            catch (ContextOverflowException e)
            {
                return new Outcome(null, false, 0, false, $"item {item.Id}: {e.Message}");
            }
            if (scores.Count != item.Choices.Count)
                throw new InvalidOperationException($"model '{model.Name}' returned {scores.Count} scores for the {item.Choices.Count} choices of {cell.Task} item {item.Id}");
            return new Outcome(MultipleChoiceRecord.Create(item, scores.Select(s => s.LogLikelihood).ToArray(), prompt.Truncated), false, prompt.Tokens, false, null);
        }
    }

    private static IEnumerable<Cell> Plan(ITaskModel model, TaskSelection selection, TaskRunOptions options, string directory)
    {
        var dir = Path.Combine(directory, RecordsFolder);
        var builder = new LEvalChoicePromptBuilder(model, options.Truncation, options.ChoiceStyle);
        var style = options.ChoiceStyle == LEvalChoiceStyle.Letters ? "leval-letters" : "leval-options";
        foreach (var file in selection.LEvalChoice)
            foreach (var shots in options.Shots)
                foreach (var length in options.Lengths)
                {
                    var questions = file.Queries(options.Limit).Select(x =>
                    {
                        var examples = TaskExampleSampler.Select(file, x.Document, x.Query, shots, options.Seed);
                        return (Func<int, LEvalChoicePrompt>)(cap => builder.Build(file, x.Document, x.Query, examples, cap));
                    }).ToArray();
                    yield return new Cell(file.Name, style, length, shots,
                        Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"{file.Name}.L{length}.{shots}shot.jsonl")), questions);
                }
        foreach (var file in selection.Choice)
        {
            var name = TaskSelection.NameOf(file.Path);
            foreach (var shots in ShotsFor(file, options))
            {
                var items = Limited(MultipleChoiceFewShot.Apply(file.Items, shots, options.Seed), options.Limit)
                    .Select(item => (Func<int, LEvalChoicePrompt>)(_ => new LEvalChoicePrompt(item, false, shots, 1 + model.Tokenize(item.FullContext).Length, false, null)))
                    .ToArray();
                yield return new Cell(name, file.Format.ToString().ToLowerInvariant(), null, shots,
                    Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"{name}.{shots}shot.jsonl")), items);
            }
        }
    }

    private static IEnumerable<MultipleChoiceItem> Limited(IReadOnlyList<MultipleChoiceItem> items, int? limit) => limit is { } n ? items.Take(n) : items;
}
