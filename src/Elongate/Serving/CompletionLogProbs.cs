namespace Elongate.Serving;

/// <summary>
/// Log-probabilities in OpenAI's legacy completions shape (<c>choices[].logprobs</c>), one entry per returned token:
/// the echoed prompt's tokens (when echoed) then the generated ones.
/// </summary>
/// <param name="TokenIds">The tokens' ids.</param>
/// <param name="Tokens">Each token's text (its bytes as UTF-8, or "bytes:\xNN…" for part of a character, as OpenAI writes them).</param>
/// <param name="TokenLogProbs">Natural-log probability of each token given everything before it; null for the first token of the sequence, which nothing predicts.</param>
/// <param name="TopLogProbs">The most likely tokens at each position, most likely first (null where the log-probability is null).</param>
/// <param name="TextOffsets">Character offset of each token's text in the returned text (echo + completion).</param>
public sealed record CompletionLogProbs(
    IReadOnlyList<int> TokenIds,
    IReadOnlyList<string> Tokens,
    IReadOnlyList<double?> TokenLogProbs,
    IReadOnlyList<IReadOnlyList<KeyValuePair<string, double>>?> TopLogProbs,
    IReadOnlyList<int> TextOffsets);
