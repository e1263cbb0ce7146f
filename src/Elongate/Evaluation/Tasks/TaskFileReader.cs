using System.Text.Json;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Reads task files: L-Eval's JSON Lines and the SCROLLS / ZeroSCROLLS style, detected per file from its first line.
/// <list type="bullet">
/// <item>L-Eval (a line has `instructions`): `input` is the document, `instructions[i]` a question and `outputs[i]` its
/// reference; `evaluation` (exam, f1 or rouge) is the metric and must agree on every line; lines L-Eval marks "LLM" or "human"
/// (its judged subset) are kept and scored by the metric of the others.</item>
/// <item>SCROLLS style (a line has `id`, `input` and `output` or `outputs[]`): ZeroSCROLLS lines that carry
/// `document_start_index`/`document_end_index` (and `query_start_index`/`query_end_index`) are cut at those character
/// offsets; otherwise, as SCROLLS writes them, the question is the text before the first blank line and the document
/// the text after it, except for the summarisation tasks without a query (<see cref="QuerylessTasks"/>), whose whole
/// input is the document and whose question is <see cref="SummaryInstruction"/>. Lines repeating an id add
/// references to that question (SCROLLS lists one reference per line); lines with the same document text share one
/// document. The metric is the `--metric` given, else an `evaluation` key, else the task name's
/// (<see cref="MetricForTask"/>).</item>
/// </list>
/// Blank lines are skipped. Any other problem throws <see cref="TaskDataException"/> naming the file, line and key.
/// </summary>
public static class TaskFileReader
{
    /// <summary>The question given to summarisation tasks whose input holds no query.</summary>
    public const string SummaryInstruction = "Write a summary of the document.";

    /// <summary>SCROLLS-style summarisation tasks whose input is only the document.</summary>
    public static IReadOnlySet<string> QuerylessTasks { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "gov_report", "summ_screen_fd", "summ_screen", "booksum", "arxiv", "pubmed", "multi_news", "big_patent",
    };

    private static readonly Dictionary<string, TaskMetric> KnownMetrics = new(StringComparer.OrdinalIgnoreCase)
    {
        // SCROLLS and ZeroSCROLLS: summarisation by ROUGE, extractive/abstractive QA by F1, multiple choice and NLI by exact match.
        ["gov_report"] = TaskMetric.Rouge, ["summ_screen_fd"] = TaskMetric.Rouge, ["summ_screen"] = TaskMetric.Rouge,
        ["qmsum"] = TaskMetric.Rouge, ["squality"] = TaskMetric.Rouge, ["booksum"] = TaskMetric.Rouge,
        ["arxiv"] = TaskMetric.Rouge, ["pubmed"] = TaskMetric.Rouge, ["multi_news"] = TaskMetric.Rouge, ["big_patent"] = TaskMetric.Rouge,
        ["narrative_qa"] = TaskMetric.F1, ["narrativeqa"] = TaskMetric.F1, ["qasper"] = TaskMetric.F1, ["musique"] = TaskMetric.F1,
        ["hotpotqa"] = TaskMetric.F1, ["2wikimqa"] = TaskMetric.F1, ["multifieldqa_en"] = TaskMetric.F1,
        ["quality"] = TaskMetric.Exam, ["contract_nli"] = TaskMetric.Exam,
    };

    /// <summary>The metric of a SCROLLS / ZeroSCROLLS / LongBench task known by name, or null.</summary>
    public static TaskMetric? MetricForTask(string task) => KnownMetrics.TryGetValue(task, out var m) ? m : null;

    /// <summary>Parses "exam", "f1" or "rouge" (any case); null otherwise.</summary>
    public static TaskMetric? ParseMetric(string? text) => TaskScoring.TryParseMetric(text, out var m) ? m : null;

    /// <summary>
    /// The task files named by <paramref name="paths"/>: files as given, folders searched recursively for *.jsonl
    /// (sorted by path). Task names must be unique.
    /// </summary>
    /// <exception cref="FileNotFoundException">A path that is neither a file nor a folder.</exception>
    /// <exception cref="TaskDataException">A malformed file, or two files with the same task name.</exception>
    public static IReadOnlyList<TaskFile> ReadAll(IEnumerable<string> paths, TaskMetric? metric = null)
    {
        var tasks = new List<TaskFile>();
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Expand(paths))
        {
            var task = Read(f, metric);
            if (byName.TryGetValue(task.Name, out var other))
                throw new TaskDataException(f, $"task name '{task.Name}' is also the name of {other}; results are keyed by task name, so give files distinct names");
            byName[task.Name] = f;
            tasks.Add(task);
        }
        return tasks;
    }

    /// <summary>
    /// The files named by <paramref name="paths"/>, full paths without repeats: files as given, folders searched
    /// recursively for *.jsonl (sorted by path).
    /// </summary>
    /// <exception cref="FileNotFoundException">A path that is neither a file nor a folder, or a folder without .jsonl files.</exception>
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            if (File.Exists(p)) files.Add(System.IO.Path.GetFullPath(p));
            else if (Directory.Exists(p))
            {
                var found = Directory.GetFiles(p, "*.jsonl", SearchOption.AllDirectories).Select(System.IO.Path.GetFullPath).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new FileNotFoundException($"{p}: no .jsonl task files in this folder");
                files.AddRange(found);
            }
            else throw new FileNotFoundException($"task file or folder not found: {p}", p);
        }
        return files.Distinct().ToList();
    }

    /// <summary>Reads one task file; <paramref name="metric"/> overrides the metric the file or its name implies.</summary>
    public static TaskFile Read(string path, TaskMetric? metric = null)
    {
        var full = System.IO.Path.GetFullPath(path);
        var name = System.IO.Path.GetFileNameWithoutExtension(full);
        var leval = new List<TaskDocument>();
        var scrolls = new ScrollsBuilder(full, name);
        TaskFileFormat? format = null;
        TaskMetric? declared = null;
        int lineNumber = 0;
        foreach (var line in File.ReadLines(full))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(line);
                root = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new TaskDataException(full, lineNumber, $"not valid JSON: {e.Message}", inner: e);
            }
            if (root.ValueKind != JsonValueKind.Object)
                throw new TaskDataException(full, lineNumber, $"a JSON {root.ValueKind}, not an object");
            var lineFormat = root.TryGetProperty("instructions", out _) ? TaskFileFormat.LEval
                : root.TryGetProperty("input", out _) && (root.TryGetProperty("output", out _) || root.TryGetProperty("outputs", out _)) ? TaskFileFormat.Scrolls
                : throw new TaskDataException(full, lineNumber,
                    "neither L-Eval (input, instructions, outputs) nor SCROLLS style (id, input, output or outputs)");
            if (format is { } f && f != lineFormat)
                throw new TaskDataException(full, lineNumber, $"a {lineFormat} line in a file whose first line is {f}");
            format = lineFormat;
            if (root.TryGetProperty("evaluation", out var ev) && !IsJudgeLabel(ev))
            {
                var m = ev.ValueKind == JsonValueKind.String ? ParseMetric(ev.GetString()) : null;
                if (m is null) throw new TaskDataException(full, lineNumber, $"evaluation must be \"exam\", \"f1\" or \"rouge\" (or L-Eval's \"LLM\"/\"human\"), got {ev.GetRawText()}", "evaluation");
                if (declared is { } d && d != m)
                    throw new TaskDataException(full, lineNumber, $"evaluation {ev.GetString()} differs from the file's earlier {d.ToString().ToLowerInvariant()}", "evaluation");
                declared = m;
            }
            if (lineFormat == TaskFileFormat.LEval) leval.Add(ReadLEval(full, lineNumber, root, leval.Count));
            else scrolls.Add(lineNumber, root);
        }
        if (format is null) throw new TaskDataException(full, "the file holds no task lines");
        var documents = format == TaskFileFormat.LEval ? leval : scrolls.Build();
        var resolved = metric ?? declared ?? MetricForTask(name)
            ?? throw new TaskDataException(full, $"cannot tell how to score task '{name}': the lines have no \"evaluation\" key and the name is not a known task; give --metric exam|f1|rouge");
        return new TaskFile(full, name, format.Value, resolved, documents);
    }

    /// <summary>
    /// L-Eval marks a few lines of its open-ended files "LLM" or "human": the subset it also judges with GPT-4 or
    /// people. They are the same kind of question, so they are kept and scored by the file's automatic metric.
    /// </summary>
    private static bool IsJudgeLabel(JsonElement evaluation) =>
        evaluation.ValueKind == JsonValueKind.String && evaluation.GetString()?.Trim().ToLowerInvariant() is "llm" or "human";

    private static TaskDocument ReadLEval(string file, int line, JsonElement root, int index)
    {
        var input = RequiredString(file, line, root, "input");
        var instructions = StringArray(file, line, root, "instructions");
        var outputs = StringArray(file, line, root, "outputs");
        if (instructions.Count != outputs.Count)
            throw new TaskDataException(file, line, $"{instructions.Count} instructions but {outputs.Count} outputs", "outputs");
        if (instructions.Count == 0) throw new TaskDataException(file, line, "no instructions", "instructions");
        var queries = instructions.Select((q, i) => new TaskQuery(i, $"{line}:{i}", q, [outputs[i]])).ToList();
        return new TaskDocument(index, line, input, queries);
    }

    private static string RequiredString(string file, int line, JsonElement root, string key) =>
        !root.TryGetProperty(key, out var v) ? throw new TaskDataException(file, line, $"no \"{key}\" key", key)
        : v.ValueKind == JsonValueKind.String ? v.GetString()!
        : throw new TaskDataException(file, line, $"\"{key}\" is a JSON {v.ValueKind}, not a string", key);

    private static List<string> StringArray(string file, int line, JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var v)) throw new TaskDataException(file, line, $"no \"{key}\" key", key);
        if (v.ValueKind != JsonValueKind.Array) throw new TaskDataException(file, line, $"\"{key}\" is a JSON {v.ValueKind}, not an array of strings", key);
        var list = new List<string>();
        int i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw new TaskDataException(file, line, $"\"{key}\"[{i}] is a JSON {item.ValueKind}, not a string", key);
            list.Add(item.GetString()!);
            i++;
        }
        return list;
    }

    /// <summary>Gathers SCROLLS lines: one question per id (references merged), one document per distinct document text.</summary>
    private sealed class ScrollsBuilder(string file, string task)
    {
        private readonly List<(int Line, string Text, List<(string Id, string Question, List<string> References)> Queries)> _docs = [];
        private readonly Dictionary<string, int> _docByText = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (int Doc, int Query)> _byId = new(StringComparer.Ordinal);

        public void Add(int line, JsonElement root)
        {
            if (!root.TryGetProperty("id", out var idElement)) throw new TaskDataException(file, line, "no \"id\" key", "id");
            var id = idElement.ValueKind switch
            {
                JsonValueKind.String => idElement.GetString()!,
                JsonValueKind.Number => idElement.GetRawText(),
                _ => throw new TaskDataException(file, line, $"\"id\" is a JSON {idElement.ValueKind}, not a string or number", "id"),
            };
            var input = RequiredString(file, line, root, "input");
            var references = root.TryGetProperty("outputs", out _) ? StringArray(file, line, root, "outputs") : [RequiredString(file, line, root, "output")];
            if (references.Count == 0) throw new TaskDataException(file, line, "no reference answer (empty \"outputs\")", "outputs");
            if (_byId.TryGetValue(id, out var seen))
            {
                var (_, text, queries) = _docs[seen.Doc];
                var (doc, question) = Split(line, root, input);
                if (doc != text || question != queries[seen.Query].Question)
                    throw new TaskDataException(file, line, $"id '{id}' appeared before with a different input", "id");
                queries[seen.Query].References.AddRange(references);
                return;
            }
            var (document, q) = Split(line, root, input);
            if (!_docByText.TryGetValue(document, out var d))
            {
                d = _docs.Count;
                _docByText[document] = d;
                _docs.Add((line, document, []));
            }
            _byId[id] = (d, _docs[d].Queries.Count);
            _docs[d].Queries.Add((id, q, references));
        }

        /// <summary>(document, question) of a line: by ZeroSCROLLS' offsets when present, else at the first blank line.</summary>
        private (string Document, string Question) Split(int line, JsonElement root, string input)
        {
            if (Offset(line, root, "document_start_index", input.Length) is { } ds && Offset(line, root, "document_end_index", input.Length) is { } de)
            {
                if (de < ds) throw new TaskDataException(file, line, $"document_end_index {de} is before document_start_index {ds}", "document_end_index");
                var question = Offset(line, root, "query_start_index", input.Length) is { } qs && Offset(line, root, "query_end_index", input.Length) is { } qe && qe > qs
                    ? input[qs..qe].Trim()
                    : SummaryInstruction;
                return (input[ds..de].Trim(), question);
            }
            if (QuerylessTasks.Contains(task)) return (input.Trim(), SummaryInstruction);
            int blank = input.IndexOf("\n\n", StringComparison.Ordinal);
            if (blank < 0)
                throw new TaskDataException(file, line,
                    $"\"input\" has no blank line separating the question from the document (SCROLLS style); a summarisation task without a query must be named one of {string.Join(", ", QuerylessTasks.Order())}",
                    "input");
            return (input[(blank + 2)..].Trim(), input[..blank].Trim());
        }

        private int? Offset(int line, JsonElement root, string key, int length)
        {
            if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i) || i < 0 || i > length)
                throw new TaskDataException(file, line, $"\"{key}\" must be a character offset in [0, {length}], got {v.GetRawText()}", key);
            return i;
        }

        public List<TaskDocument> Build() =>
            _docs.Select((d, i) => new TaskDocument(i, d.Line, d.Text,
                d.Queries.Select((q, j) => new TaskQuery(j, q.Id, q.Question, q.References)).ToList())).ToList();
    }
}
