namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One question scored by log-likelihood, in lm-evaluation-harness's <c>multiple_choice</c> terms: the model reads
/// <see cref="Description"/>, <see cref="Document"/> and <see cref="Context"/> (<see cref="FullContext"/>) and each
/// choice is the continuation
/// <see cref="Delimiter"/> + choice (lm-evaluation-harness's <c>target_delimiter</c>, a space by default, so
/// "Answer:" is continued by " Paris").
/// </summary>
public sealed record MultipleChoiceItem
{
    /// <summary>An item scored as <paramref name="scoring"/> says; checks that there are choices and the gold indices are among them.</summary>
    /// <param name="id">Unique within its task (the readers use the line number); per-item records and comparisons are keyed by it.</param>
    /// <param name="context">The prompt the choices continue (after the document, if any); never truncated.</param>
    /// <param name="choices">The choice texts, without the delimiter; <c>acc_norm</c> divides by their length.</param>
    /// <param name="gold">Indices of the correct choices: one for most tasks, several for TruthfulQA MC2 or Coursera-style questions.</param>
    /// <param name="scoring">What the per-item score is.</param>
    public MultipleChoiceItem(string id, string context, IReadOnlyList<string> choices, IReadOnlyList<int> gold,
        MultipleChoiceScoring scoring = MultipleChoiceScoring.Accuracy)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(choices);
        ArgumentNullException.ThrowIfNull(gold);
        if (choices.Count < 1) throw new ArgumentException($"item {id}: no choices", nameof(choices));
        if (gold.Count < 1) throw new ArgumentException($"item {id}: no gold choice", nameof(gold));
        foreach (var g in gold)
            if (g < 0 || g >= choices.Count)
                throw new ArgumentException($"item {id}: gold index {g} is not among the {choices.Count} choices", nameof(gold));
        if (gold.Distinct().Count() != gold.Count) throw new ArgumentException($"item {id}: repeated gold index", nameof(gold));
        // MC1 is defined by a single true answer; accepting several would silently turn it into "any of".
        if (scoring == MultipleChoiceScoring.TruthfulQaMc1 && gold.Count != 1)
            throw new ArgumentException($"item {id}: TruthfulQA MC1 needs exactly one true answer, got {gold.Count}", nameof(gold));
        Id = id;
        Context = context;
        Choices = choices;
        Gold = gold;
        Scoring = scoring;
    }

    /// <summary>Unique within its task.</summary>
    public string Id { get; }

    /// <summary>The prompt the choices continue; when <see cref="Document"/> is set it follows the document.</summary>
    public string Context { get; }

    /// <summary>The choice texts without the delimiter.</summary>
    public IReadOnlyList<string> Choices { get; }

    /// <summary>Indices of the correct choices.</summary>
    public IReadOnlyList<int> Gold { get; }

    /// <summary>What the per-item score is.</summary>
    public MultipleChoiceScoring Scoring { get; }

    /// <summary>Put between the context and each choice (lm-evaluation-harness's <c>target_delimiter</c>, " ").</summary>
    public string Delimiter { get; init; } = " ";

    /// <summary>
    /// A long document read before <see cref="Context"/> (L-Eval), or null. The evaluator may shorten it, keeping its
    /// start and end, so the question and choices always fit in the model's context; the context itself is never cut.
    /// </summary>
    public string? Document { get; init; }

    /// <summary>The continuations scored: <see cref="Delimiter"/> + each choice.</summary>
    public IReadOnlyList<string> Continuations => Choices.Select(c => Delimiter + c).ToArray();

    /// <summary>
    /// Text before everything else, e.g. MMLU's "The following are multiple choice questions (with answers) about
    /// {subject}.\n\n" (lm-evaluation-harness's <c>description</c>, which also precedes few-shot examples).
    /// </summary>
    public string Description { get; init; } = "";

    /// <summary>The whole prompt: description, document (if any), context.</summary>
    public string FullContext => Compose(Document);

    /// <summary>The prompt with <paramref name="document"/> in place of <see cref="Document"/> (a shortened one).</summary>
    public string Compose(string? document) => Description + document + Context;
}
