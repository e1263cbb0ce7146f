namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One long document of a task file and the questions asked about it. L-Eval stores one document per line with
/// several (instruction, output) pairs; SCROLLS-style files store one question per line, and lines that share the same
/// document text are gathered into one document here (so few-shot examples can avoid the query's own document).
/// </summary>
/// <param name="Index">0-based position of the document in its file (order of first appearance).</param>
/// <param name="LineNumber">1-based line of the file where the document first appears (for messages).</param>
/// <param name="Text">The document.</param>
/// <param name="Queries">Its questions, in file order.</param>
public sealed record TaskDocument(int Index, int LineNumber, string Text, IReadOnlyList<TaskQuery> Queries);

/// <summary>One question about a document and its reference answers.</summary>
/// <param name="Index">0-based position of the question within its document.</param>
/// <param name="Id">The file's id of the question (SCROLLS `id`), or "LINE:INDEX" for L-Eval.</param>
/// <param name="Question">The question or instruction, never truncated.</param>
/// <param name="References">Reference answers; a prediction scores the best of them, as SCROLLS scores several references.</param>
public sealed record TaskQuery(int Index, string Id, string Question, IReadOnlyList<string> References);
