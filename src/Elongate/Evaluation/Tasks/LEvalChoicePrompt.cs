namespace Elongate.Evaluation.Tasks;

/// <summary>An L-Eval exam question made into a fitted multiple-choice item, or why it was not.</summary>
/// <param name="Item">The item whose <see cref="MultipleChoiceItem.Context"/> is the whole fitted prompt, or null.</param>
/// <param name="Truncated">The question's document was cut to fit.</param>
/// <param name="Examples">Few-shot examples shown.</param>
/// <param name="Tokens">Prompt tokens (BOS included) as measured with the model's tokenizer.</param>
/// <param name="Unconverted">No item because the question's options or reference could not be read.</param>
/// <param name="Problem">Why there is no item (options unreadable, or the prompt without its document exceeds the cap).</param>
public sealed record LEvalChoicePrompt(MultipleChoiceItem? Item, bool Truncated, int Examples, int Tokens, bool Unconverted, string? Problem);
