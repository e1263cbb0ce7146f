namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The JSON Lines shapes <see cref="MultipleChoiceReader"/> understands: the usual exports of the datasets that
/// lm-evaluation-harness scores by log-likelihood. Each shape fixes the prompt as lm-evaluation-harness's task
/// config for that dataset writes it.
/// </summary>
public enum MultipleChoiceFormat
{
    /// <summary>Detect from the first line's keys (see <see cref="MultipleChoiceReader.Detect"/>).</summary>
    Auto,

    /// <summary>
    /// <c>{"question"|"query"|"ctx", "choices": [...], "gold"|"label"|"answer": int or letter}</c>. A <c>question</c> is
    /// asked as "Question: {question}\nAnswer:"; a <c>query</c> or <c>ctx</c> is the prompt as it stands.
    /// </summary>
    Generic,

    /// <summary>ARC (ai2_arc): <c>question</c>, <c>choices: {text: [...], label: [...]}</c>, <c>answerKey</c>.</summary>
    Arc,

    /// <summary>HellaSwag: <c>ctx</c> (or <c>activity_label</c>, <c>ctx_a</c>, <c>ctx_b</c>), <c>endings</c>, <c>label</c>.</summary>
    HellaSwag,

    /// <summary>MMLU (cais/mmlu): <c>question</c>, <c>choices</c>, <c>answer</c> (index), optional <c>subject</c>; the letters are scored.</summary>
    Mmlu,

    /// <summary>PIQA: <c>goal</c>, <c>sol1</c>, <c>sol2</c>, <c>label</c>.</summary>
    Piqa,

    /// <summary>TruthfulQA multiple_choice: <c>question</c>, <c>mc1_targets</c> and/or <c>mc2_targets</c> (<c>{choices, labels}</c>).</summary>
    TruthfulQa,
}
