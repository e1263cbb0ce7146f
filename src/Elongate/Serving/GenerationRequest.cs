using Elongate.Model;

namespace Elongate.Serving;

/// <summary>One generation a <see cref="ModelHost"/> runs: the prompt's tokens and how to continue it.</summary>
public sealed record GenerationRequest
{
    /// <summary>The prompt, already tokenized (BOS and chat template included).</summary>
    public required int[] PromptTokens { get; init; }

    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Sampling settings (greedy by default).</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Greedy;

    /// <summary>Text that ends the generation when it appears (never part of the result).</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>
    /// Return log-probabilities (OpenAI's legacy <c>logprobs</c>): null for none, else each returned token's
    /// log-probability with this many most likely alternatives (0–5).
    /// </summary>
    public int? LogProbs { get; init; }

    /// <summary>Return the prompt before the generated text (and, with <see cref="LogProbs"/>, its tokens' log-probabilities).</summary>
    public bool Echo { get; init; }

    /// <summary>The prompt as the client wrote it, echoed verbatim; null echoes the decoded <see cref="PromptTokens"/>.</summary>
    public string? PromptText { get; init; }
}
