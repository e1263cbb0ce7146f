namespace Elongate.Evaluation.Tasks;

/// <summary>
/// What to do with an L-Eval exam question that has several correct letters (Coursera: "AC", "ABD"). One
/// log-likelihood argmax picks one option, so L-Eval's own rule for generated answers — the set of letters must match
/// exactly — cannot be applied.
/// </summary>
public enum LEvalMultiAnswer
{
    /// <summary>
    /// Score it: correct when the most probable option is one of the correct letters (lm-evaluation-harness's
    /// <c>multiple_target</c> rule, "pred in gold"). More lenient than L-Eval's exact set match: an item with k of n
    /// letters correct has chance level k/n, not 1/n. The report counts these items (<see cref="MultipleChoiceReport.MultiGold"/>).
    /// </summary>
    AnyGold,

    /// <summary>Leave it out (listed among the skipped questions), so the score is single-answer accuracy only.</summary>
    Skip,
}
