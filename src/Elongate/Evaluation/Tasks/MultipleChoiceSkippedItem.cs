namespace Elongate.Evaluation.Tasks;

/// <summary>An item the evaluator could not score and left out of the means (counted in the report, not fatal).</summary>
/// <param name="Id">The item's id.</param>
/// <param name="Reason">Why, e.g. the question and choices alone do not fit in the context.</param>
public sealed record MultipleChoiceSkippedItem(string Id, string Reason);
