using System.Diagnostics;
using System.Globalization;
using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Scores multiple-choice items by log-likelihood, as lm-evaluation-harness's <c>output_type: multiple_choice</c>:
/// one <see cref="ITaskModel.ScoreAsync"/> call per item with the context and every " {choice}" continuation; the
/// prediction is the most probable continuation (<c>acc</c>), or the most probable per character of the choice
/// (<c>acc_norm</c>); TruthfulQA MC1 is <c>acc</c> on mc1_targets and MC2 the normalised probability mass on the true
/// answers of mc2_targets (<see cref="MultipleChoiceMetrics"/>). Only <see cref="ITaskModel.ScoreAsync"/> and
/// <see cref="ITaskModel.Tokenize"/> are used, so a local model and an endpoint score alike.
/// </summary>
public sealed class MultipleChoiceEvaluator
{
    private readonly ITaskModel _model;
    private readonly int _maxContextTokens;

    /// <summary>
    /// An evaluator for <paramref name="model"/>. Items with a <see cref="MultipleChoiceItem.Document"/> are fitted into
    /// <paramref name="maxContextTokens"/> (default: the model's context length) by cutting the document's middle.
    /// </summary>
    public MultipleChoiceEvaluator(ITaskModel model, int? maxContextTokens = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _maxContextTokens = maxContextTokens ?? model.ContextLength;
        if (_maxContextTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxContextTokens), "the context budget must be positive");
    }

    /// <summary>Scores one item: the model's log-likelihood of each continuation, then <see cref="MultipleChoiceRecord.Create"/>.</summary>
    public async Task<MultipleChoiceRecord> ScoreAsync(MultipleChoiceItem item, CancellationToken cancellationToken = default)
    {
        var continuations = item.Continuations;
        var (context, truncated) = FitContext(item, continuations);
        var scores = await _model.ScoreAsync(context, continuations, cancellationToken).ConfigureAwait(false);
        if (scores.Count != continuations.Count)
            throw new InvalidOperationException($"model '{_model.Name}' returned {scores.Count} scores for the {continuations.Count} choices of item {item.Id}");
        return MultipleChoiceRecord.Create(item, scores.Select(s => s.LogLikelihood).ToArray(), truncated);
    }

    /// <summary>
    /// Scores every item of <paramref name="task"/> in order and summarises them. With <paramref name="recordsPath"/>,
    /// each record is appended to that file as soon as it is scored and items already recorded there are not scored
    /// again (resume); a recorded item whose choices or gold differ from the item's means the file belongs to other
    /// data, which is an error rather than a silent mix. An item whose question and choices alone do not fit in the
    /// context (<see cref="ContextOverflowException"/>, from the fitting here or from the model) is skipped and
    /// counted, not fatal: a small-context model still gets a score on the items it can read.
    /// </summary>
    /// <param name="task">Task name for the report.</param>
    /// <param name="items">The items; ids must be unique.</param>
    /// <param name="recordsPath">Per-item results file (JSON Lines), or null to keep records in memory only.</param>
    /// <param name="progress">Told the number of items done (resumed and skipped ones included) after each item.</param>
    /// <param name="cancellationToken">Stops between items; what was recorded stays recorded.</param>
    public async Task<MultipleChoiceResult> EvaluateAsync(string task, IReadOnlyList<MultipleChoiceItem> items,
        string? recordsPath = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var duplicate = items.GroupBy(i => i.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"task {task}: item id '{duplicate.Key}' appears {duplicate.Count()} times", nameof(items));

        var stopwatch = Stopwatch.StartNew();
        var done = recordsPath is null ? new Dictionary<string, MultipleChoiceRecord>() : MultipleChoiceRecordFile.Load(recordsPath);
        var records = new List<MultipleChoiceRecord>(items.Count);
        var skipped = new List<MultipleChoiceSkippedItem>();
        int resumed = 0;
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (done.TryGetValue(item.Id, out var previous))
            {
                CheckSameItem(item, previous, recordsPath!);
                records.Add(previous);
                resumed++;
            }
            else
            {
                MultipleChoiceRecord record;
                try { record = await ScoreAsync(item, cancellationToken).ConfigureAwait(false); }
                catch (ContextOverflowException e)
                {
                    skipped.Add(new MultipleChoiceSkippedItem(item.Id, e.Message));
                    progress?.Report(records.Count + skipped.Count);
                    continue;
                }
                if (recordsPath is not null) MultipleChoiceRecordFile.Append(recordsPath, record);
                records.Add(record);
            }
            progress?.Report(records.Count + skipped.Count);
        }
        var report = MultipleChoiceReport.Summarize(task, _model.Name, records, skipped.Count, resumed, stopwatch.Elapsed.TotalSeconds);
        return new MultipleChoiceResult(report, records, skipped);
    }

    private static void CheckSameItem(MultipleChoiceItem item, MultipleChoiceRecord record, string path)
    {
        if (record.Scoring != item.Scoring || !record.Gold.SequenceEqual(item.Gold) || record.PromptHash != MultipleChoiceRecord.HashPrompt(item))
            throw new InvalidOperationException(
                $"{path}: the record of item {item.Id} does not match the item (prompt, choices, gold or scoring differ): the records " +
                "file was written for other data or another prompt; use another output folder or delete it");
    }

    /// <summary>
    /// The prompt to score and whether the document was cut. Without a document the context is used as it is (the
    /// model reports an overflow itself). With one, the whole prompt must leave room for the longest continuation
    /// (plus BOS); if it does not, the document keeps its start and end and loses its middle, as LongBench truncates
    /// a long input, so the question is never the part that is cut. The cut is sized in characters from the token count and re-checked with the tokenizer,
    /// shrinking by 10% until it fits, because the exact character/token ratio varies along a document.
    /// </summary>
    internal (string Context, bool Truncated) FitContext(MultipleChoiceItem item, IReadOnlyList<string> continuations)
    {
        if (item.Document is null) return (item.FullContext, false);
        int continuationTokens = continuations.Max(c => _model.Tokenize(c).Length);
        int Needed(string document) => 1 + _model.Tokenize(item.Compose(document)).Length + continuationTokens;

        if (Needed(item.Document) <= _maxContextTokens) return (item.FullContext, false);
        int fixedTokens = Needed("");
        if (fixedTokens > _maxContextTokens)
            throw new ContextOverflowException(fixedTokens - continuationTokens, continuationTokens, _maxContextTokens);

        int documentTokens = Math.Max(1, _model.Tokenize(item.Document).Length);
        long keep = (long)item.Document.Length * (_maxContextTokens - fixedTokens) / documentTokens;
        while (true)
        {
            var cut = MiddleCut(item.Document, (int)Math.Max(0, keep));
            if (keep <= 0 || Needed(cut) <= _maxContextTokens) return (item.Compose(cut), true);
            keep = Math.Min(keep - 1, (long)(keep * 0.9));
        }
    }

    /// <summary>The first ⌈n/2⌉ and last ⌊n/2⌋ characters of <paramref name="text"/>, never splitting a surrogate pair.</summary>
    internal static string MiddleCut(string text, int keep)
    {
        if (keep >= text.Length) return text;
        int head = (keep + 1) / 2, tail = keep - head;
        if (head > 0 && char.IsHighSurrogate(text[head - 1])) head--;
        int tailStart = text.Length - tail;
        if (tail > 0 && tailStart < text.Length && char.IsLowSurrogate(text[tailStart])) tailStart++;
        return string.Concat(text.AsSpan(0, head), text.AsSpan(tailStart));
    }

    /// <summary>For messages: the model and the context budget items are fitted into.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_model.Name} (≤{_maxContextTokens} tokens)");
}
