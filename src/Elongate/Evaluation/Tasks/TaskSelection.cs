using System.Text.Json;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The task files of a run, sorted by how they are answered: by generation (<see cref="Generation"/>), L-Eval exam
/// files scored by log-likelihood multiple choice at each length (<see cref="LEvalChoice"/>), and multiple-choice
/// files in lm-evaluation-harness's shapes (<see cref="Choice"/>: ARC, HellaSwag, MMLU, PIQA, TruthfulQA, generic),
/// which are always scored by log-likelihood.
/// </summary>
/// <param name="Generation">Files answered by greedy generation.</param>
/// <param name="LEvalChoice">L-Eval exam files whose questions list lettered options, in log-likelihood mode.</param>
/// <param name="Choice">Multiple-choice files with their items.</param>
public sealed record TaskSelection(IReadOnlyList<TaskFile> Generation, IReadOnlyList<TaskFile> LEvalChoice, IReadOnlyList<MultipleChoiceFile> Choice)
{
    /// <summary>Every task name of the run.</summary>
    public IEnumerable<string> Names => Generation.Concat(LEvalChoice).Select(f => f.Name).Concat(Choice.Select(f => NameOf(f.Path)));

    /// <summary>The task name of a multiple-choice file: its file name without extension, as for task files.</summary>
    public static string NameOf(string path) => Path.GetFileNameWithoutExtension(path);

    /// <summary>
    /// Reads and sorts the files named by <paramref name="paths"/> (folders searched for *.jsonl). A file whose first
    /// line has a multiple-choice shape (<see cref="MultipleChoiceReader.Detect"/>) and no L-Eval <c>instructions</c>
    /// is a multiple-choice file; every other file is read as a task file. In <see cref="TaskMode.LogLikelihood"/>, an
    /// L-Eval exam file is scored by log-likelihood when at least half its questions list lettered options
    /// (<see cref="LEvalMultipleChoice.SplitOptions"/>; tpo, coursera), and its other questions are counted as not
    /// converted; the rest (topic retrieval, sci_fi, gsm100, the open-ended files) are answered by generation.
    /// </summary>
    /// <exception cref="TaskDataException">A malformed task file, or two files with the same task name.</exception>
    /// <exception cref="MultipleChoiceDataException">A malformed multiple-choice file (its line named).</exception>
    public static TaskSelection Load(IEnumerable<string> paths, TaskMetric? metric = null, TaskMode mode = TaskMode.Generate)
    {
        var generation = new List<TaskFile>();
        var leval = new List<TaskFile>();
        var choice = new List<MultipleChoiceFile>();
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in TaskFileReader.Expand(paths))
        {
            var name = NameOf(path);
            if (byName.TryGetValue(name, out var other))
                throw new TaskDataException(path, $"task name '{name}' is also the name of {other}; results are keyed by task name, so give files distinct names");
            byName[name] = path;
            if (IsMultipleChoice(path))
            {
                choice.Add(MultipleChoiceReader.Read(path));
                continue;
            }
            var file = TaskFileReader.Read(path, metric);
            if (mode == TaskMode.LogLikelihood && IsLetteredExam(file)) leval.Add(file);
            else generation.Add(file);
        }
        return new TaskSelection(generation, leval, choice);
    }

    /// <summary>True when the first non-blank line is a JSON object of a multiple-choice shape that is not an L-Eval line.</summary>
    public static bool IsMultipleChoice(string path)
    {
        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        if (first is null) return false;
        try
        {
            using var doc = JsonDocument.Parse(first);
            var root = doc.RootElement;
            return root.ValueKind == JsonValueKind.Object && !root.TryGetProperty("instructions", out _) && MultipleChoiceReader.Detect(root) is not null;
        }
        catch (JsonException)
        {
            return false;   // the task file reader reports the line
        }
    }

    /// <summary>An L-Eval exam file at least half of whose questions list lettered options.</summary>
    public static bool IsLetteredExam(TaskFile file) =>
        file.Format == TaskFileFormat.LEval && file.Metric == TaskMetric.Exam && file.QueryCount > 0
        && 2 * file.Queries().Count(q => LEvalMultipleChoice.SplitOptions(q.Query.Question) is not null) >= file.QueryCount;
}
