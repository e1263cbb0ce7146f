using System.Text;
using System.Text.Json;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The append-only per-example results file (JSON Lines, one <see cref="TaskExampleResult"/> per line). Each line is
/// written whole and flushed to disk before the next question, so an interrupted run leaves complete lines and at
/// most one partial last line; loading drops that partial line (cutting the file back to the last line break) so
/// the resumed run appends after complete lines only.
/// </summary>
public sealed class TaskResultsFile : IDisposable
{
    private static readonly JsonSerializerOptions LineOptions = new(EvalJson.Options) { WriteIndented = false };
    private FileStream? _append;

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>A results file at <paramref name="path"/> (created on the first append).</summary>
    public TaskResultsFile(string path) => Path = System.IO.Path.GetFullPath(path);

    /// <summary>The complete lines of the file (none when it does not exist), after dropping a partial last line.</summary>
    /// <exception cref="TaskDataException">A complete line that is not a result (file and line named).</exception>
    public List<TaskExampleResult> Load()
    {
        var results = new List<TaskExampleResult>();
        if (!File.Exists(Path)) return results;
        var bytes = File.ReadAllBytes(Path);
        int end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (end < bytes.Length)
        {
            // The run was interrupted while writing a line: cut it away so the next append starts on a fresh line.
            using var fs = new FileStream(Path, FileMode.Open, FileAccess.Write);
            fs.SetLength(end);
        }
        var text = Encoding.UTF8.GetString(bytes, 0, end);
        int lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            TaskExampleResult? r;
            try
            {
                r = JsonSerializer.Deserialize<TaskExampleResult>(line, LineOptions);
            }
            catch (JsonException e)
            {
                throw new TaskDataException(Path, lineNumber, $"not a result line: {e.Message} (move the file away to start afresh)", inner: e);
            }
            if (r is null || r.Task is null || r.References is null || r.Prediction is null)
                throw new TaskDataException(Path, lineNumber, "not a result line: task, prediction or references missing (move the file away to start afresh)");
            results.Add(r);
        }
        return results;
    }

    /// <summary>Appends one result as one line and flushes it to disk.</summary>
    public void Append(TaskExampleResult result)
    {
        _append ??= new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var line = JsonSerializer.SerializeToUtf8Bytes(result, LineOptions);
        var buffer = new byte[line.Length + 1];
        line.CopyTo(buffer, 0);
        buffer[^1] = (byte)'\n';
        _append.Write(buffer);
        _append.Flush(flushToDisk: true);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _append?.Dispose();
        _append = null;
    }
}
