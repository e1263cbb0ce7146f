namespace Elongate.Evaluation.Tasks;

/// <summary>The answer format of an exam task, which decides how <see cref="ExamAnswer"/> reads a reply.</summary>
public enum ExamFormat
{
    /// <summary>One option letter A–D (L-Eval tpo, quality).</summary>
    Letter,

    /// <summary>One or more option letters, e.g. "AC" (L-Eval coursera).</summary>
    Letters,

    /// <summary>True or False; the reference may carry " [fact: …]" after it (L-Eval sci_fi).</summary>
    TrueFalse,

    /// <summary>A number, the last one of the reply or the one after "The answer is" (L-Eval gsm100).</summary>
    Number,

    /// <summary>Free text that must contain the reference (L-Eval topic_retrieval_longchat).</summary>
    Text,
}
