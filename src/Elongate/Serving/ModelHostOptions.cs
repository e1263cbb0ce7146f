using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Serving;

/// <summary>How a <see cref="ModelHost"/> serves its model.</summary>
public sealed record ModelHostOptions
{
    /// <summary>Requests that run at once, each with its own KV cache over the shared weights (llama-server's --parallel).</summary>
    public int Slots { get; init; } = 1;

    /// <summary>Context window per slot in tokens; 0 = the model's trained context.</summary>
    public int ContextLength { get; init; }

    /// <summary>Requests that may wait for a slot; one more is refused with <see cref="ServerBusyException"/>.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>The name clients address the model by (default: the file name).</summary>
    public string? ModelName { get; init; }

    /// <summary>The chat template; null = the vocabulary's own, if recognised.</summary>
    public ChatTemplate? Template { get; init; }
}
