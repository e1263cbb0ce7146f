using System.Security.Cryptography;
using System.Text;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The prompt templates of a run: the built-in ones (embedded in the library; <see cref="FileName"/> gives each
/// kind's file name) overridden by files in a user's folder. In that folder, TASK.txt (e.g. tpo.txt) is used for that
/// task alone, and KIND.txt (e.g. exam-choice.txt) for every question of that kind; files with other names are an
/// error, so a misspelt override does not go unnoticed. <see cref="WriteDefaults"/> writes the built-in files as a
/// starting point.
/// </summary>
public sealed class TaskPrompts
{
    private readonly Dictionary<TaskPromptKind, TaskPromptTemplate> _kinds;
    private readonly Dictionary<string, TaskPromptTemplate> _tasks;

    private TaskPrompts(Dictionary<TaskPromptKind, TaskPromptTemplate> kinds, Dictionary<string, TaskPromptTemplate> tasks)
    {
        _kinds = kinds;
        _tasks = tasks;
    }

    /// <summary>The file name of a kind's template.</summary>
    public static string FileName(TaskPromptKind kind) => kind switch
    {
        TaskPromptKind.ExamChoice => "exam-choice.txt",
        TaskPromptKind.ExamShort => "exam-short.txt",
        TaskPromptKind.ExamNumber => "exam-number.txt",
        TaskPromptKind.Qa => "qa.txt",
        TaskPromptKind.Summary => "summary.txt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The built-in templates.</summary>
    public static TaskPrompts Default { get; } = Load(null);

    /// <summary>The text of a built-in template.</summary>
    public static string DefaultText(TaskPromptKind kind)
    {
        var name = "Elongate.Evaluation.Tasks.Prompts." + FileName(kind);
        using var stream = typeof(TaskPrompts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"built-in prompt {name} is missing from the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The built-in templates overridden by <paramref name="directory"/>'s files (none when null). Task-specific files
    /// are accepted for any name that is not a kind's; <paramref name="taskNames"/>, when given, restricts them to
    /// those tasks.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="TaskDataException">A malformed template, or a .txt file naming neither a kind nor a task.</exception>
    public static TaskPrompts Load(string? directory, IReadOnlyCollection<string>? taskNames = null)
    {
        var kinds = Enum.GetValues<TaskPromptKind>().ToDictionary(k => k, k => TaskPromptTemplate.Parse("built-in:" + FileName(k), DefaultText(k)));
        var tasks = new Dictionary<string, TaskPromptTemplate>(StringComparer.Ordinal);
        if (directory is null) return new TaskPrompts(kinds, tasks);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"--prompts: folder not found: {directory}");
        foreach (var file in Directory.GetFiles(directory, "*.txt").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            var template = TaskPromptTemplate.Parse(Path.GetFullPath(file), File.ReadAllText(file));
            var kind = Enum.GetValues<TaskPromptKind>().Where(k => FileName(k) == name).Cast<TaskPromptKind?>().FirstOrDefault();
            if (kind is { } k) kinds[k] = template;
            else
            {
                var task = Path.GetFileNameWithoutExtension(file);
                if (taskNames is not null && !taskNames.Contains(task))
                    throw new TaskDataException(Path.GetFullPath(file),
                        $"names neither a prompt kind ({string.Join(", ", Enum.GetValues<TaskPromptKind>().Select(FileName))}) nor a task of this run ({string.Join(", ", taskNames)})");
                tasks[task] = template;
            }
        }
        return new TaskPrompts(kinds, tasks);
    }

    /// <summary>The template for a question of <paramref name="kind"/> in <paramref name="task"/>: the task's own file, else the kind's.</summary>
    public TaskPromptTemplate For(string task, TaskPromptKind kind) => _tasks.TryGetValue(task, out var t) ? t : _kinds[kind];

    /// <summary>
    /// A short hash of every template's text (kinds and tasks), stored with a run's results so that resuming with
    /// changed prompts is refused instead of mixing answers to two different prompts.
    /// </summary>
    public string Fingerprint()
    {
        var sb = new StringBuilder();
        foreach (var (k, t) in _kinds.OrderBy(p => p.Key)) sb.Append(FileName(k)).Append('\0').Append(t.Text).Append('\0');
        foreach (var (k, t) in _tasks.OrderBy(p => p.Key, StringComparer.Ordinal)) sb.Append(k).Append('\0').Append(t.Text).Append('\0');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..16];
    }

    /// <summary>Writes the built-in templates into <paramref name="directory"/> (atomically, one file per kind) for a user to edit.</summary>
    public static IReadOnlyList<string> WriteDefaults(string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var k in Enum.GetValues<TaskPromptKind>())
        {
            var path = Path.Combine(directory, FileName(k));
            Common.AtomicFile.WriteAllText(path, DefaultText(k));
            written.Add(path);
        }
        return written;
    }
}
