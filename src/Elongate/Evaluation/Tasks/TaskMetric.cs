namespace Elongate.Evaluation.Tasks;

/// <summary>How a task is scored: L-Eval's per-file "evaluation" field.</summary>
public enum TaskMetric
{
    /// <summary>"exam": an answer read from the reply and matched exactly (<see cref="ExamAnswer"/>).</summary>
    Exam,

    /// <summary>"f1": SQuAD token F1 (<see cref="TokenF1"/>).</summary>
    F1,

    /// <summary>"rouge": ROUGE-1/2/L (<see cref="Rouge"/>).</summary>
    Rouge,
}
