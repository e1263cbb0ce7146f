namespace Elongate.Evaluation.Tasks;

/// <summary>What a multiple-choice item's per-item score means.</summary>
public enum MultipleChoiceScoring
{
    /// <summary>
    /// 1 when the most probable choice is a gold one, else 0 (lm-evaluation-harness's <c>acc</c> for
    /// <c>output_type: multiple_choice</c>; with several gold indices, its <c>multiple_target</c> rule "pred in gold").
    /// </summary>
    Accuracy,

    /// <summary>TruthfulQA MC1: accuracy on <c>mc1_targets</c>, whose single true answer must be the most probable.</summary>
    TruthfulQaMc1,

    /// <summary>
    /// TruthfulQA MC2: the probability mass on the true answers of <c>mc2_targets</c>, normalised over all its
    /// answers (lm-evaluation-harness truthfulqa <c>process_results_mc2</c>).
    /// </summary>
    TruthfulQaMc2,
}
