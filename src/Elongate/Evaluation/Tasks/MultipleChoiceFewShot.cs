namespace Elongate.Evaluation.Tasks;

/// <summary>
/// k-shot prompts for multiple-choice items, laid out as lm-evaluation-harness's <c>fewshot_context</c>: the
/// description, then each example as its context + delimiter + its gold choice, examples separated by a blank line
/// (<c>fewshot_delimiter</c> "\n\n"), a blank line, then the item's own context. lm-evaluation-harness draws examples
/// from a training split; a user's exported file usually has one split, so the examples here are other items of the
/// same set (never the item itself), drawn with a seed.
/// </summary>
public static class MultipleChoiceFewShot
{
    /// <summary>lm-evaluation-harness's few-shot seed.</summary>
    public const int DefaultSeed = 1234;

    /// <summary>
    /// Each item with <paramref name="shots"/> examples from the other items prepended to its context. The examples of
    /// item i depend only on <paramref name="seed"/> and i, so a run cut short by a limit and resumed sees the same
    /// prompts. An example with several gold choices shows its first. Zero shots returns the items unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// Fewer than <paramref name="shots"/> + 1 items; a TruthfulQA item (its prompt is the fixed six-example primer);
    /// an item with a document (long-document few-shot prompts are built by the generation harness, which budgets
    /// the documents).
    /// </exception>
    public static IReadOnlyList<MultipleChoiceItem> Apply(IReadOnlyList<MultipleChoiceItem> items, int shots, int seed = DefaultSeed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shots);
        if (shots == 0) return items;
        if (items.Count <= shots) throw new ArgumentException($"{shots} shots need at least {shots + 1} items, there are {items.Count}", nameof(shots));
        foreach (var item in items)
        {
            if (item.Scoring != MultipleChoiceScoring.Accuracy)
                throw new ArgumentException($"item {item.Id}: TruthfulQA is scored zero-shot after its fixed QA primer", nameof(items));
            if (item.Document is not null)
                throw new ArgumentException($"item {item.Id}: few-shot prompts for items with a document are not built here", nameof(items));
        }

        var result = new MultipleChoiceItem[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            var random = new Random(unchecked(seed * 1_000_003 + i));
            // Partial Fisher–Yates over the other indices: `shots` distinct examples, none of them item i.
            var pool = Enumerable.Range(0, items.Count).Where(j => j != i).ToArray();
            for (int k = 0; k < shots; k++)
            {
                int pick = k + random.Next(pool.Length - k);
                (pool[k], pool[pick]) = (pool[pick], pool[k]);
            }
            var examples = pool.Take(shots).Select(j => items[j]).Select(e => e.Context + e.Delimiter + e.Choices[e.Gold[0]]);
            var item = items[i];
            result[i] = new MultipleChoiceItem(item.Id, string.Join("\n\n", examples) + "\n\n" + item.Context, item.Choices, item.Gold, item.Scoring)
            {
                Delimiter = item.Delimiter,
                Description = item.Description,
            };
        }
        return result;
    }
}
