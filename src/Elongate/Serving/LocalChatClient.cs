using Elongate.Common;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Elongate.Model;
using Elongate.Tokenization;
using Microsoft.Extensions.AI;

namespace Elongate.Serving;

/// <summary>
/// <see cref="IChatClient"/> over an in-process model (<see cref="ModelHost"/>): messages are rendered with the
/// model's chat template, the options users set (max output tokens, temperature, top-p, top-k, seed, stop sequences)
/// drive the sampler, usage counts come back with the response, and cancellation stops generation within a token.
/// </summary>
/// <remarks>
/// No <c>IEmbeddingGenerator</c>: a causal language model's mean-pooled hidden states are not trained as embeddings,
/// and offering them as such would mislead. Tools, response formats and multimodal content are not supported;
/// messages contribute their text. Penalties (frequency/presence) are not implemented and are rejected rather than
/// ignored.
/// </remarks>
public sealed class LocalChatClient : IChatClient
{
    private readonly ModelHost _host;
    private readonly bool _ownsHost;

    /// <param name="host">The served model.</param>
    /// <param name="ownsHost">Dispose the host with this client.</param>
    public LocalChatClient(ModelHost host, bool ownsHost = false)
    {
        _host = host;
        _ownsHost = ownsHost;
    }

    /// <summary>Default max output tokens when the options do not say.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 256;

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        var result = await _host.GenerateAsync(request, null, cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
        {
            ModelId = _host.ModelName,
            CreatedAt = DateTimeOffset.UtcNow,
            ResponseId = "chatcmpl-" + Guid.NewGuid().ToString("N"),
            FinishReason = Finish(result.FinishReason),
            Usage = Usage(result),
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = Task.Run(async () =>
        {
            try
            {
                return await _host.GenerateAsync(request, text => channel.Writer.TryWrite(text), linked.Token).ConfigureAwait(false);
            }
            finally
            {
                channel.Writer.TryComplete();
            }
        }, CancellationToken.None);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        try
        {
            await foreach (var text in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = id, MessageId = id, CreatedAt = created, ModelId = _host.ModelName };
        }
        finally
        {
            // A consumer that stops reading (or is cancelled) stops the generation and frees the slot.
            linked.Cancel();
        }
        var result = await run.ConfigureAwait(false);
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(result))])
        {
            ResponseId = id, MessageId = id, CreatedAt = created, ModelId = _host.ModelName, FinishReason = Finish(result.FinishReason),
        };
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("elongate", null, _host.ModelName)
        : serviceType == typeof(ModelHost) ? _host
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsHost) _host.Dispose();
    }

    private GenerationRequest Request(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ChatTurn>();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Add(new ChatTurn("system", instructions));
        foreach (var m in messages) turns.Add(new ChatTurn(m.Role.Value.ToLowerInvariant(), m.Text));
        if (options?.FrequencyPenalty is { } fp && fp != 0 || options?.PresencePenalty is { } pp && pp != 0)
            throw new NotSupportedException("frequency and presence penalties are not implemented by Elongate's sampler");
        if (options?.Tools is { Count: > 0 }) throw new NotSupportedException("tool calls are not supported");
        var sampling = new SamplingOptions
        {
            Temperature = options?.Temperature ?? 0f,
            TopP = options?.TopP ?? 1f,
            TopK = options?.TopK ?? 0,
            Seed = options?.Seed is { } seed ? unchecked((int)seed) : 42,
        };
        var stops = new List<string>(options?.StopSequences ?? []);
        if (_host.Template is { } t) stops.AddRange(t.EndOfTurnMarkers);
        var prompt = _host.TokenizeChat(turns);
        return new GenerationRequest
        {
            PromptTokens = prompt,
            // Unset: up to the default, within what the context leaves; set: exactly that, or a ContextOverflowException.
            MaxTokens = options?.MaxOutputTokens ?? Math.Max(0, Math.Min(DefaultMaxOutputTokens, _host.ContextLength - prompt.Length)),
            Sampling = sampling,
            Stop = stops,
        };
    }

    private static UsageDetails Usage(GenerationResult r) => new()
    {
        InputTokenCount = r.PromptTokens,
        OutputTokenCount = r.CompletionTokens,
        TotalTokenCount = r.PromptTokens + r.CompletionTokens,
        CachedInputTokenCount = r.CachedTokens,
    };

    private static Microsoft.Extensions.AI.ChatFinishReason? Finish(StopReason r) => r switch
    {
        StopReason.Stop => Microsoft.Extensions.AI.ChatFinishReason.Stop,
        StopReason.Length or StopReason.Context => Microsoft.Extensions.AI.ChatFinishReason.Length,
        _ => null,
    };
}
