using Elongate.Common;

namespace Elongate.Data;

/// <summary>
/// Instruction data that cannot be used: a malformed or unrecognised JSON Lines line, a missing or empty field, a
/// conversation without a final assistant turn, a role the chat template cannot render, an example longer than the
/// sequence length. The message names the file and line (or the example's "file:line" id), so the user can go and
/// fix that line.
/// </summary>
public sealed class InstructionDataException : ModelFormatException
{
    /// <summary>The 1-based line of the file at fault, when the error is tied to one.</summary>
    public int? LineNumber { get; }

    /// <summary>An error at <paramref name="line"/> of <paramref name="file"/> ("file: line N: problem").</summary>
    public InstructionDataException(string file, int line, string problem, Exception? inner = null)
        : base(file, $"line {line}: {problem}", inner: inner) => LineNumber = line;

    /// <summary>An error about a whole example, named by its id ("file:line: problem").</summary>
    public InstructionDataException(string exampleId, string problem, Exception? inner = null)
        : base(exampleId, problem, inner: inner) => LineNumber = LineFromId(exampleId);

    /// <summary>The line number at the end of a "file:line" id, if there is one.</summary>
    private static int? LineFromId(string id)
    {
        int colon = id.LastIndexOf(':');
        return colon >= 0 && int.TryParse(id.AsSpan(colon + 1), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var line) ? line : null;
    }
}
