using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Common;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The per-item results file of a multiple-choice run: one <see cref="MultipleChoiceRecord"/> per JSON line, appended
/// and flushed as each item is scored, so a run that is stopped loses at most the item in flight and a rerun with the
/// same file scores only what is missing.
/// </summary>
public static class MultipleChoiceRecordFile
{
    /// <summary>Compact snake_case JSON (<see cref="EvalJson"/>'s naming, one line per record, enums by name).</summary>
    public static JsonSerializerOptions Options { get; } = new(EvalJson.Options)
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// The records in <paramref name="path"/> by id (empty when the file does not exist). A last line that does not
    /// parse is the trace of a run killed mid-write: it is dropped and the file rewritten without it. A bad line
    /// elsewhere is an error, since it cannot come from an interrupted append.
    /// </summary>
    public static Dictionary<string, MultipleChoiceRecord> Load(string path)
    {
        var records = new Dictionary<string, MultipleChoiceRecord>(StringComparer.Ordinal);
        if (!File.Exists(path)) return records;
        var lines = File.ReadAllLines(path);
        int last = Array.FindLastIndex(lines, l => !string.IsNullOrWhiteSpace(l));
        for (int i = 0; i <= last; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            MultipleChoiceRecord? record;
            try { record = JsonSerializer.Deserialize<MultipleChoiceRecord>(lines[i], Options); }
            catch (JsonException) when (i == last)
            {
                AtomicFile.WriteAllText(path, string.Concat(lines.Take(i).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => l + "\n")));
                break;
            }
            catch (JsonException e)
            {
                throw new MultipleChoiceDataException(path, i + 1, $"not a multiple-choice record: {e.Message}", inner: e);
            }
            if (record?.Id is null || record.Gold is null || record.LogLikelihoods is null || record.ChoiceLengths is null || record.PromptHash is null) throw new MultipleChoiceDataException(path, i + 1, "not a multiple-choice record");
            records[record.Id] = record;   // a later line for the same id wins
        }
        return records;
    }

    /// <summary>Appends <paramref name="record"/> as one line and flushes it to disk.</summary>
    public static void Append(string path, MultipleChoiceRecord record)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var line = JsonSerializer.Serialize(record, Options) + "\n";
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = Encoding.UTF8.GetBytes(line);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }
}
