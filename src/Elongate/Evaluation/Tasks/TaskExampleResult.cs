namespace Elongate.Evaluation.Tasks;

/// <summary>
/// One answered question at one length and shot count: a line of the results file. (<see cref="Task"/>,
/// <see cref="Document"/>, <see cref="Query"/>, <see cref="Shots"/>, <see cref="Length"/>) is its key; a resumed run
/// skips keys already present.
/// </summary>
/// <param name="Task">Task name (file name without extension).</param>
/// <param name="Document">0-based document index in the file.</param>
/// <param name="Query">0-based question index within the document.</param>
/// <param name="Id">The question's id in the file.</param>
/// <param name="Shots">Few-shot examples asked for.</param>
/// <param name="Length">The length cap L (prompt + answer, in tokens) this answer was made under.</param>
/// <param name="Metric">exam, f1 or rouge.</param>
/// <param name="Examples">Few-shot examples actually shown (fewer than <paramref name="Shots"/> when the file has too few other documents).</param>
/// <param name="PromptTokens">Prompt tokens as the model counted them (with BOS and any chat markup).</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
/// <param name="DocumentTokens">Tokens of the question's document.</param>
/// <param name="KeptDocumentTokens">Of those, tokens kept in the prompt.</param>
/// <param name="Truncated">The question's document was cut to fit.</param>
/// <param name="OverBudget">The prompt without any document still exceeded the budget (sent anyway; questions are never cut).</param>
/// <param name="Prediction">The model's answer, before the first stop string, trimmed.</param>
/// <param name="References">Reference answers.</param>
/// <param name="Extracted">What the scorer read from the answer (letter, number, ...), when it extracts one.</param>
/// <param name="Score">Score against the best-matching reference (for rouge tasks its ROUGE-L F-measure).</param>
/// <param name="Rouge1">ROUGE-1 F-measure against that reference (rouge tasks only).</param>
/// <param name="Rouge2">ROUGE-2 F-measure (rouge tasks only).</param>
/// <param name="RougeL">ROUGE-L F-measure (rouge tasks only).</param>
/// <param name="Parsed">False when the scorer could not read an answer of the expected form from the prediction.</param>
/// <param name="Seconds">Wall time of the generation.</param>
/// <param name="Error">Why there is no answer (the prompt did not fit the model's context), else null; such a question scores 0 and counts as unparsed.</param>
public sealed record TaskExampleResult(
    string Task, int Document, int Query, string Id, int Shots, int Length, string Metric,
    int Examples, int PromptTokens, int GeneratedTokens, int DocumentTokens, int KeptDocumentTokens, bool Truncated, bool OverBudget,
    string Prediction, IReadOnlyList<string> References, string? Extracted, double Score, double? Rouge1, double? Rouge2, double? RougeL, bool Parsed, double Seconds, string? Error)
{
    /// <summary>The resume key.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public (string Task, int Document, int Query, int Shots, int Length) Key => (Task, Document, Query, Shots, Length);
}
