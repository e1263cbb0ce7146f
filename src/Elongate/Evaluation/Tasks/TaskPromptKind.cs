namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The prompt a question gets, chosen by the task's metric and, for exam tasks, by the form of the reference
/// (<see cref="ExamAnswer.FormatFor"/>). Each kind is a template file (<see cref="TaskPrompts"/>).
/// </summary>
public enum TaskPromptKind
{
    /// <summary>exam-choice.txt: option letters (one or several).</summary>
    ExamChoice,

    /// <summary>exam-short.txt: True/False or a short text answer.</summary>
    ExamShort,

    /// <summary>exam-number.txt: a number at the end of a worked solution.</summary>
    ExamNumber,

    /// <summary>qa.txt: an open answer scored by token F1.</summary>
    Qa,

    /// <summary>summary.txt: a long answer scored by ROUGE.</summary>
    Summary,
}
