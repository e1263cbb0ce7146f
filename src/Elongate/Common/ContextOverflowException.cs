namespace Elongate.Common;

/// <summary>A request does not fit in the context: the prompt, or the prompt plus the tokens asked for (HTTP 400).</summary>
public sealed class ContextOverflowException(int promptTokens, int maxTokens, int contextLength) :
    Exception(promptTokens >= contextLength
        ? $"the prompt is {promptTokens} tokens, which does not fit in the {contextLength}-token context"
        : $"the prompt ({promptTokens} tokens) plus max_tokens ({maxTokens}) exceed the {contextLength}-token context")
{
    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; } = promptTokens;
    /// <summary>Tokens the request asked to generate.</summary>
    public int MaxTokens { get; } = maxTokens;
    /// <summary>The context window.</summary>
    public int ContextLength { get; } = contextLength;
}
