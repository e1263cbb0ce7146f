using System.Text.Json;
using static Elongate.Serving.OpenAiJsonReader;

namespace Elongate.Serving;

/// <summary>The options /v1/chat/completions and /v1/completions share, read and checked.</summary>
internal sealed record OpenAiRequestOptions
{
    /// <summary>Stop strings a request may give, and their longest length (each is searched for at every token).</summary>
    public const int MaxStops = 16, MaxStopLength = 512;

    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public long? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }

    /// <summary>Reads the shared fields of a request object, refusing what Elongate cannot honour.</summary>
    /// <param name="root">The request object.</param>
    /// <param name="contextLength">The served context, the most max_tokens can be.</param>
    /// <param name="minMaxTokens">The least max_tokens may be: 1, or 0 for a completion that echoes its prompt (scoring a text).</param>
    public static OpenAiRequestOptions Read(JsonElement root, int contextLength, int minMaxTokens = 1)
    {
        var model = String(root, "model");
        // max_completion_tokens is the current name, max_tokens the older one; both are accepted.
        var maxTokens = Integer(root, "max_completion_tokens", param: "max_completion_tokens") ?? Integer(root, "max_tokens");
        if (maxTokens < minMaxTokens)
            throw OpenAiError.Invalid($"max_tokens must be at least {minMaxTokens}{(minMaxTokens > 0 ? " (0 only with \"echo\": true)" : "")}, not {maxTokens}", "max_tokens");
        if (maxTokens > contextLength)
            throw OpenAiError.Invalid($"max_tokens is {maxTokens}, more than the model's {contextLength}-token context", "max_tokens", "max_tokens_exceeded");
        var n = Integer(root, "n");
        if (n is not null and not 1) throw OpenAiError.Invalid($"n must be 1: this server returns one choice per request, not {n}", "n");
        var seed = Integer(root, "seed");
        var topK = Integer(root, "top_k");
        var stream = Bool(root, "stream") ?? false;
        bool includeUsage = false;
        if (Field(root, "stream_options") is { } so)
        {
            if (so.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("'stream_options' must be an object", "stream_options");
            includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
        }
        Unsupported(root, "frequency_penalty", IsZero, "penalties are not implemented");
        Unsupported(root, "presence_penalty", IsZero, "penalties are not implemented");
        Unsupported(root, "logit_bias", IsEmpty, "logit biases are not implemented");
        return new OpenAiRequestOptions
        {
            Model = model,
            MaxTokens = (int?)maxTokens,
            Temperature = (float?)Number(root, "temperature", 0, 2),
            TopP = (float?)Number(root, "top_p", 0, 1),
            TopK = topK is null ? null : (int)Math.Clamp(topK.Value, 0, int.MaxValue),
            Seed = seed,
            Stop = ReadStop(root),
            Stream = stream,
            IncludeUsage = includeUsage,
        };
    }

    private static string[] ReadStop(JsonElement root)
    {
        if (Field(root, "stop") is not { } v) return [];
        var stops = new List<string>();
        if (v.ValueKind == JsonValueKind.String) stops.Add(v.GetString()!);
        else if (v.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in v.EnumerateArray())
            {
                if (s.ValueKind != JsonValueKind.String) throw OpenAiError.Invalid("'stop' must be a string or an array of strings", "stop");
                stops.Add(s.GetString()!);
            }
        }
        else throw OpenAiError.Invalid("'stop' must be a string or an array of strings", "stop");
        if (stops.Count > MaxStops) throw OpenAiError.Invalid($"'stop' may hold at most {MaxStops} strings, not {stops.Count}", "stop");
        if (stops.Any(s => s.Length > MaxStopLength)) throw OpenAiError.Invalid($"each stop string must be at most {MaxStopLength} characters", "stop");
        return [.. stops];
    }
}
