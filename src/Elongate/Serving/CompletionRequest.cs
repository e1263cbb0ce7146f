using System.Text.Json;
using static Elongate.Serving.OpenAiJsonReader;

namespace Elongate.Serving;

/// <summary>A POST /v1/completions body, read and checked: the prompt as text, or as token ids.</summary>
/// <param name="PromptText">The prompt text (tokenized with BOS as the vocabulary asks, control tokens parsed).</param>
/// <param name="PromptTokens">Or the prompt as token ids, used as given.</param>
/// <param name="Options">The shared options.</param>
/// <param name="Echo">Return the prompt before the completion (OpenAI's legacy echo; with max_tokens 0, a way to score a text).</param>
/// <param name="LogProbs">Null, or the number (0–5) of most likely alternatives to return with each token's log-probability.</param>
internal sealed record CompletionRequest(string? PromptText, int[]? PromptTokens, OpenAiRequestOptions Options, bool Echo = false, int? LogProbs = null)
{
    /// <summary>OpenAI's limit on alternatives per token for the legacy completions API.</summary>
    public const int MaxLogProbs = 5;

    public static CompletionRequest Parse(JsonElement root, int contextLength)
    {
        if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("the request body must be a JSON object");
        string? text = null;
        int[]? tokens = null;
        switch (Field(root, "prompt"))
        {
            case null:
                throw OpenAiError.Invalid("'prompt' is required", "prompt");
            case { ValueKind: JsonValueKind.String } s:
                text = s.GetString();
                break;
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() == 1 && a[0].ValueKind == JsonValueKind.String:
                text = a[0].GetString();
                break;
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                tokens = new int[a.GetArrayLength()];
                int i = 0;
                foreach (var e in a.EnumerateArray())
                {
                    if (!e.TryGetInt32(out tokens[i]) || tokens[i] < 0) throw OpenAiError.Invalid($"'prompt[{i}]' is not a token id", "prompt");
                    i++;
                }
                break;
            default:
                throw OpenAiError.Invalid("'prompt' must be a string, an array of one string, or a non-empty array of token ids", "prompt");
        }
        bool echo = Bool(root, "echo") ?? false;
        int? logProbs = Field(root, "logprobs") switch
        {
            null or { ValueKind: JsonValueKind.False } => null,
            { ValueKind: JsonValueKind.True } => throw OpenAiError.Invalid(
                $"'logprobs' on /v1/completions is the number of alternatives per token (0–{MaxLogProbs}), not a boolean (that is the chat API's form)", "logprobs"),
            _ => (int)Integer(root, "logprobs", 0, MaxLogProbs)!.Value,
        };
        Unsupported(root, "best_of", IsOne, "one completion is generated per request");
        Unsupported(root, "suffix", v => v.ValueKind == JsonValueKind.String && v.GetString() == "", "insertion is not implemented");
        var options = OpenAiRequestOptions.Read(root, contextLength, minMaxTokens: echo ? 0 : 1);
        if (options.Stream && (echo || logProbs is not null))
            throw OpenAiError.Invalid("'echo' and 'logprobs' are supported only without streaming on this server", echo ? "echo" : "logprobs", "unsupported_parameter");
        return new CompletionRequest(text, tokens, options, echo, logProbs);
    }
}
