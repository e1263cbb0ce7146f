using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// A multiple-choice data line that cannot be scored: not JSON, of no known shape, or missing a field the shape needs
/// (or holding one of the wrong kind, or a gold answer that is not among the choices). The message names the file,
/// the 1-based line and what is missing, so the user can fix that line.
/// </summary>
public sealed class MultipleChoiceDataException : ModelFormatException
{
    /// <summary>The 1-based line at fault.</summary>
    public int LineNumber { get; }

    /// <summary>An error at <paramref name="line"/> of <paramref name="file"/> ("file (key 'k'): line N: problem").</summary>
    public MultipleChoiceDataException(string file, int line, string problem, string? key = null, Exception? inner = null)
        : base(file, $"line {line}: {problem}", key: key, inner: inner) => LineNumber = line;
}
