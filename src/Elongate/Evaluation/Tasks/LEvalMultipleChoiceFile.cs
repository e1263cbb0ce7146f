namespace Elongate.Evaluation.Tasks;

/// <summary>An L-Eval exam file read as multiple-choice items.</summary>
/// <param name="Path">The file.</param>
/// <param name="Items">One item per question whose options and answer could be read.</param>
/// <param name="Skipped">The other questions, with reasons.</param>
public sealed record LEvalMultipleChoiceFile(string Path, IReadOnlyList<MultipleChoiceItem> Items, IReadOnlyList<LEvalSkippedQuestion> Skipped);
