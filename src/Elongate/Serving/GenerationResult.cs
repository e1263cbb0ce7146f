using Elongate.Model;

namespace Elongate.Serving;

/// <summary>What a generation produced, why it ended, and what it cost.</summary>
/// <param name="Text">The generated text, up to (not including) a stop string.</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="PromptTokens">Tokens in the prompt.</param>
/// <param name="CompletionTokens">Tokens generated.</param>
/// <param name="CachedTokens">Prompt tokens whose KV entries were reused from the slot's previous request.</param>
/// <param name="PromptTime">Time to process the uncached part of the prompt.</param>
/// <param name="GenerationTime">Time to generate.</param>
/// <param name="Echo">The echoed prompt text when the request asked for it (it precedes <paramref name="Text"/>), else null.</param>
/// <param name="LogProbs">Log-probabilities of the returned tokens when the request asked for them, else null.</param>
public sealed record GenerationResult(string Text, StopReason FinishReason, int PromptTokens, int CompletionTokens, int CachedTokens,
    TimeSpan PromptTime, TimeSpan GenerationTime, string? Echo = null, CompletionLogProbs? LogProbs = null);
