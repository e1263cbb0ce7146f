using System.Text;
using System.Text.Json;
using Elongate.Tokenization;
using static Elongate.Serving.OpenAiJsonReader;

namespace Elongate.Serving;

/// <summary>A POST /v1/chat/completions body, read and checked.</summary>
/// <param name="Messages">The conversation, oldest first ("developer" read as "system").</param>
/// <param name="Truncate">Extension: drop the oldest non-system messages until the request fits in the context.</param>
/// <param name="Options">The shared options.</param>
internal sealed record ChatCompletionRequest(List<ChatTurn> Messages, bool Truncate, OpenAiRequestOptions Options)
{
    public static ChatCompletionRequest Parse(JsonElement root, int contextLength)
    {
        if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("the request body must be a JSON object");
        if (Field(root, "messages") is not { } messages) throw OpenAiError.Invalid("'messages' is required", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw OpenAiError.Invalid("'messages' must be an array", "messages");
        if (messages.GetArrayLength() == 0) throw OpenAiError.Invalid("'messages' must hold at least one message", "messages");
        var turns = new List<ChatTurn>();
        int i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string param = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid($"'{param}' must be an object", param);
            var role = String(m, "role", param + ".role") ?? throw OpenAiError.Invalid($"'{param}.role' is required", param + ".role");
            if (Field(m, "tool_calls") is { } calls && !IsEmpty(calls))
                throw OpenAiError.Invalid($"'{param}.tool_calls': tool calls are not supported by this server", param + ".tool_calls", "unsupported_parameter");
            var content = Content(m, param, role);
            turns.Add(new ChatTurn(role == "developer" ? "system" : role, content));
        }
        Unsupported(root, "tools", IsEmpty, "tool calls are not implemented");
        Unsupported(root, "functions", IsEmpty, "function calls are not implemented");
        Unsupported(root, "logprobs", IsFalse, "log-probabilities are not returned");
        Unsupported(root, "response_format", v => v.ValueKind == JsonValueKind.Object && String(v, "type", "response_format.type") is null or "text",
            "only plain text responses are produced");
        var options = OpenAiRequestOptions.Read(root, contextLength);
        return new ChatCompletionRequest(turns, Bool(root, "truncate") ?? false, options);
    }

    /// <summary>A message's text: a string, or an array of text parts (joined with newlines).</summary>
    private static string Content(JsonElement m, string param, string role)
    {
        switch (Field(m, "content"))
        {
            case null when role == "assistant":
                return "";
            case null:
                throw OpenAiError.Invalid($"'{param}.content' is required", param + ".content");
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var sb = new StringBuilder();
                int j = 0;
                foreach (var p in parts.EnumerateArray())
                {
                    string pp = $"{param}.content[{j}]";
                    if (p.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid($"'{pp}' must be an object", pp);
                    var type = String(p, "type", pp + ".type");
                    if (type != "text")
                        throw OpenAiError.Invalid($"'{pp}': only text content parts are supported", pp + ".type", "unsupported_parameter");
                    var text = String(p, "text", pp + ".text") ?? throw OpenAiError.Invalid($"'{pp}.text' is required", pp + ".text");
                    if (j++ > 0) sb.Append('\n');
                    sb.Append(text);
                }
                return sb.ToString();
            default:
                throw OpenAiError.Invalid($"'{param}.content' must be a string or an array of content parts", param + ".content");
        }
    }
}
