namespace Elongate.Evaluation.Tasks;

/// <summary>A prompt built for one question at one length, with what was cut to fit.</summary>
/// <param name="Text">The prompt.</param>
/// <param name="Template">The template it was built from (answer budget and stop strings).</param>
/// <param name="Tokens">Its tokens by <see cref="ITaskModel.Tokenize"/> (no BOS or chat markup).</param>
/// <param name="TokenBudget">Tokens the prompt may take: the length cap less the answer budget and the reserve.</param>
/// <param name="DocumentTokens">Tokens of the query's document.</param>
/// <param name="KeptDocumentTokens">Tokens of the query's document kept in the prompt.</param>
/// <param name="Truncated">The query's document was cut.</param>
/// <param name="OverBudget">Even with every document cut to nothing the rest of the prompt (question, examples' questions and answers, template) exceeds the budget; it is sent whole, as questions are never cut.</param>
/// <param name="Examples">The few-shot examples shown, as (document index, question index).</param>
public sealed record TaskPrompt(string Text, TaskPromptTemplate Template, int Tokens, int TokenBudget, int DocumentTokens, int KeptDocumentTokens,
    bool Truncated, bool OverBudget, IReadOnlyList<(int Document, int Query)> Examples);
