using Elongate.Tokenization;

namespace Elongate.Serving;

/// <summary>How a <see cref="RemoteTaskModel"/> talks to its server.</summary>
public sealed record RemoteTaskModelOptions
{
    /// <summary>The model to ask for; null = the first (usually only) model the server lists at /models.</summary>
    public string? Model { get; init; }

    /// <summary>Sent as "Authorization: Bearer KEY" when set.</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// The context length when the server does not report one (llama.cpp's /props, vLLM's max_model_len, Elongate's
    /// meta.n_ctx); when it does, a smaller value here caps it. 0 = the server's, which must then be reported.
    /// </summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// The model's tokenizer, for servers without llama-server's /tokenize and /detokenize; null = use those endpoints.
    /// </summary>
    public ITokenizer? Tokenizer { get; init; }

    /// <summary>Longest wait for one HTTP exchange before it counts as a (retried) timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Retries after a timeout, a connection failure, HTTP 429 or a 5xx; the delay doubles after each.</summary>
    public int Retries { get; init; } = 4;

    /// <summary>Delay before the first retry (a server's Retry-After, when longer and under a minute, wins).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
}
