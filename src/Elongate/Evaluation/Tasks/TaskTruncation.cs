namespace Elongate.Evaluation.Tasks;

/// <summary>How a document too long for the budget is cut, in the model's tokens.</summary>
public enum TaskTruncation
{
    /// <summary>Keep the first ⌈n/2⌉ and the last ⌊n/2⌋ of the n tokens that fit, dropping the middle (LongBench's choice: instructions and questions sit at the ends).</summary>
    Middle,

    /// <summary>Keep the last n tokens, dropping the start.</summary>
    Left,
}
