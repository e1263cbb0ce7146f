namespace Elongate.Data;

/// <summary>Which tokens of an instruction example the language-model loss is computed on.</summary>
public enum LossTokens
{
    /// <summary>Assistant content only (standard instruction tuning).</summary>
    Answers,
    /// <summary>Assistant content and the system/user content too, i.e. the long input — the paper's Table 9 setting
    /// ("loss on the long input"). Template tokens never carry loss.</summary>
    AnswersAndInput,
}
