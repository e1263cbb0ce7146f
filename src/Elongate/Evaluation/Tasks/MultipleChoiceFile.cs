namespace Elongate.Evaluation.Tasks;

/// <summary>A multiple-choice data file as read: its shape and its items in file order.</summary>
/// <param name="Path">The file read.</param>
/// <param name="Format">Its shape (detected from the first line unless given).</param>
/// <param name="Items">The items; a TruthfulQA line gives an MC1 and an MC2 item (ids "N/mc1", "N/mc2").</param>
public sealed record MultipleChoiceFile(string Path, MultipleChoiceFormat Format, IReadOnlyList<MultipleChoiceItem> Items);
