namespace Elongate.Common;

/// <summary>
/// A model, tokenizer or checkpoint file is malformed or unsupported. The message always names the file
/// and, where known, the byte offset or metadata key at fault, so a user can tell what is wrong without a debugger.
/// </summary>
public class ModelFormatException : Exception
{
    /// <summary>Path of the offending file (or a description such as "&lt;memory&gt;").</summary>
    public string FilePath { get; }

    /// <summary>Byte offset at which the problem was found, if it is tied to a position.</summary>
    public long? Offset { get; }

    /// <summary>Metadata key, tensor name or config field at fault, if any.</summary>
    public string? Key { get; }

    public ModelFormatException(string filePath, string problem, long? offset = null, string? key = null, Exception? inner = null)
        : base(Compose(filePath, problem, offset, key), inner)
    {
        FilePath = filePath;
        Offset = offset;
        Key = key;
    }

    private static string Compose(string filePath, string problem, long? offset, string? key)
    {
        var where = offset is { } o ? $" at offset {o}" : "";
        var what = key is null ? "" : $" (key '{key}')";
        return $"{filePath}{where}{what}: {problem}";
    }
}
