namespace Elongate.Evaluation.Tasks;

/// <summary>The layout of a task file, detected from its first line.</summary>
public enum TaskFileFormat
{
    /// <summary>L-Eval: one document per line, `input`, `instructions[]`, `outputs[]`, `evaluation`.</summary>
    LEval,

    /// <summary>SCROLLS / ZeroSCROLLS: one question per line, `id`, `input` (question and document), `output` or `outputs[]`.</summary>
    Scrolls,
}

/// <summary>
/// One task: the documents and questions of one JSON Lines file. The task's name is the file name without its
/// extension (tpo.jsonl → "tpo"); that name picks the answer format of exam tasks and the prompt a user may override.
/// </summary>
/// <param name="Path">Full path of the file.</param>
/// <param name="Name">File name without extension.</param>
/// <param name="Format">Layout the file was read as.</param>
/// <param name="Metric">How answers are scored.</param>
/// <param name="Documents">Documents in file order.</param>
public sealed record TaskFile(string Path, string Name, TaskFileFormat Format, TaskMetric Metric, IReadOnlyList<TaskDocument> Documents)
{
    /// <summary>Questions over all documents.</summary>
    public int QueryCount => Documents.Sum(d => d.Queries.Count);

    /// <summary>The first <paramref name="limit"/> questions in file order (all when null), with their documents.</summary>
    public IEnumerable<(TaskDocument Document, TaskQuery Query)> Queries(int? limit = null)
    {
        int n = 0;
        foreach (var d in Documents)
            foreach (var q in d.Queries)
            {
                if (limit is { } l && n >= l) yield break;
                n++;
                yield return (d, q);
            }
    }
}
