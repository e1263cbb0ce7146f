using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// A task file that cannot be read: a line that is not JSON, a line of the wrong shape, a missing or mistyped key.
/// The message names the file, the 1-based line and the key, so the user can open the file at that line.
/// </summary>
public sealed class TaskDataException : ModelFormatException
{
    /// <summary>The 1-based line at fault, when the error is tied to one.</summary>
    public int? LineNumber { get; }

    /// <summary>An error at <paramref name="line"/> of <paramref name="file"/> ("file (key 'k'): line N: problem").</summary>
    public TaskDataException(string file, int line, string problem, string? key = null, Exception? inner = null)
        : base(file, $"line {line}: {problem}", key: key, inner: inner) => LineNumber = line;

    /// <summary>An error about the whole file.</summary>
    public TaskDataException(string file, string problem) : base(file, problem) { }
}
