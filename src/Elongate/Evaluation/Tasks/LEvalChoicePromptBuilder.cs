namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Fits an L-Eval exam question scored by log-likelihood (<see cref="LEvalMultipleChoice"/>) into a length cap, the
/// way <see cref="TaskPromptBuilder"/> fits a generated answer: in the model's tokens, budget
/// B = cap − 1 (BOS) − the longest continuation's tokens; the question, its options and the examples' questions and
/// answers are never cut (examples that leave no room are dropped, the last drawn first); the documents share what is left, each example's at most 1/(k + 1) of it, the question's
/// document the rest; a document longer than its share is cut on the run's side (<see cref="TaskTruncation"/>:
/// middle keeps start and end, left keeps the end) and re-measured until the prompt fits. With k shots the prompt is
/// each example as "{document}\n\n{question and options}\nAnswer: {its first correct choice}" followed by a blank line,
/// then the question's own document and context (lm-evaluation-harness's few-shot layout, documents included).
/// </summary>
public sealed class LEvalChoicePromptBuilder
{
    private readonly ITaskModel _model;
    private readonly TaskTruncation _truncation;
    private readonly LEvalChoiceStyle _style;
    private readonly Dictionary<(string File, int Document), int[]> _documentTokens = [];

    /// <summary>A builder for one model, truncation side and choice style.</summary>
    public LEvalChoicePromptBuilder(ITaskModel model, TaskTruncation truncation, LEvalChoiceStyle style)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _truncation = truncation;
        _style = style;
    }

    /// <summary>The item for <paramref name="query"/> with <paramref name="examples"/> (examples whose options cannot be read are left out), fitted to <paramref name="cap"/> tokens.</summary>
    public LEvalChoicePrompt Build(TaskFile file, TaskDocument document, TaskQuery query, IReadOnlyList<(TaskDocument Document, TaskQuery Query)> examples, int cap)
    {
        var item = Create(query, out var problem);
        if (item is null) return new LEvalChoicePrompt(null, false, 0, 0, true, problem);
        var shown = new List<(TaskDocument Document, MultipleChoiceItem Item)>();
        foreach (var (d, q) in examples)
            if (Create(q, out _) is { } e) shown.Add((d, e));

        int continuationTokens = item.Continuations.Max(c => _model.Tokenize(c).Length);
        int budget = cap - 1 - continuationTokens;
        var queryTokens = TokensOf(file, document);
        string Render(int[] exampleKeep, int queryKeep) =>
            string.Concat(shown.Select((s, i) => TaskPromptBuilder.Cut(_model, _truncation, s.Document.Text, TokensOf(file, s.Document), exampleKeep[i])
                                                 + s.Item.Context + s.Item.Delimiter + s.Item.Choices[s.Item.Gold[0]] + "\n\n"))
            + TaskPromptBuilder.Cut(_model, _truncation, document.Text, queryTokens, queryKeep) + item.Context;

        int fixedTokens = _model.Tokenize(Render(new int[shown.Count], 0)).Length;
        // Examples whose questions alone leave no room are dropped, the last drawn first: the question is what must be asked.
        while (fixedTokens > budget && shown.Count > 0)
        {
            shown.RemoveAt(shown.Count - 1);
            fixedTokens = _model.Tokenize(Render(new int[shown.Count], 0)).Length;
        }
        if (fixedTokens > budget)
            return new LEvalChoicePrompt(null, false, shown.Count, fixedTokens + 1, false,
                $"the prompt without documents ({fixedTokens} tokens) and the longest choice ({continuationTokens}) exceed the {cap}-token cap");
        var exampleLengths = shown.Select(s => TokensOf(file, s.Document).Length).ToArray();
        var (text, tokens, queryKeep) = DocumentShares.Fit(Render, t => _model.Tokenize(t).Length, exampleLengths, queryTokens.Length, budget, fixedTokens);
        var fitted = new MultipleChoiceItem(item.Id, text, item.Choices, item.Gold, item.Scoring) { Delimiter = item.Delimiter };
        return new LEvalChoicePrompt(fitted, queryKeep < queryTokens.Length, shown.Count, tokens + 1, false, null);
    }

    /// <summary>The unfitted item of a question (its document not in it), or null with the problem.</summary>
    private MultipleChoiceItem? Create(TaskQuery query, out string? problem) =>
        LEvalMultipleChoice.TryCreate(query.Id, "", query.Question, query.References.Count > 0 ? query.References[0] : "", _style,
            LEvalMultiAnswer.AnyGold, out problem) is { } item
            ? new MultipleChoiceItem(item.Id, item.Context, item.Choices, item.Gold, item.Scoring) { Delimiter = item.Delimiter }
            : null;

    private int[] TokensOf(TaskFile file, TaskDocument document)
    {
        if (!_documentTokens.TryGetValue((file.Path, document.Index), out var t))
            _documentTokens[(file.Path, document.Index)] = t = _model.Tokenize(document.Text);
        return t;
    }
}
