namespace Elongate.Evaluation.Tasks;

/// <summary>What an L-Eval exam question scored by log-likelihood offers the model as choices.</summary>
public enum LEvalChoiceStyle
{
    /// <summary>
    /// The options stay listed in the prompt ("A. …\nB. …\nAnswer:") and the continuations are the letters " A", " B", …
    /// — lm-evaluation-harness's MMLU prompt. acc and acc_norm coincide (all choices one character).
    /// </summary>
    Letters,

    /// <summary>
    /// The prompt is the question alone ("…\nAnswer:") and the continuations are the option texts — lm-evaluation-harness's
    /// ARC/PIQA prompt, where acc_norm matters. Suits models too small to map letters to options.
    /// </summary>
    OptionTexts,
}
