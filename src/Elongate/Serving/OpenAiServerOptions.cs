namespace Elongate.Serving;

/// <summary>How an <see cref="OpenAiServer"/> listens and what it accepts.</summary>
public sealed record OpenAiServerOptions
{
    /// <summary>Address to bind: an IP address ("127.0.0.1", "0.0.0.0", "::") or "localhost". Loopback by default, so
    /// nothing outside the machine can reach the model unless asked.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (read the actual address from <see cref="OpenAiServer.Urls"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>
    /// When set, every request but <c>GET /health</c> must carry <c>Authorization: Bearer KEY</c> with this key
    /// (401 otherwise; compared in constant time).
    /// </summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body accepted, in bytes (413 beyond it). 8 MiB by default.</summary>
    public long MaxRequestBodyBytes { get; init; } = 8L << 20;

    /// <summary>
    /// Tokens generated when a request gives no max_tokens: null fills the rest of the context (OpenAI's and
    /// llama-server's behaviour); a number caps it, and is itself capped by what the context leaves.
    /// </summary>
    public int? DefaultMaxTokens { get; init; }

    /// <summary>Sampling temperature when a request gives none: 1, as OpenAI's API documents. Clients that want
    /// greedy output send <c>"temperature": 0</c>.</summary>
    public float DefaultTemperature { get; init; } = 1f;

    /// <summary>Where the start-up lines and unexpected errors are written (null: nowhere).</summary>
    public TextWriter? Log { get; init; }
}
