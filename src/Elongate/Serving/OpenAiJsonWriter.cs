using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Elongate.Model;

namespace Elongate.Serving;

/// <summary>The JSON bodies the server sends, in OpenAI's shapes, written with <see cref="Utf8JsonWriter"/>.</summary>
internal static class OpenAiJsonWriter
{
    // Bodies are JSON over HTTP, never embedded in HTML: non-ASCII text stays readable instead of \uXXXX.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) body(w);
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Error(OpenAiError e) => Json(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", Clean(e.Message));
        w.WriteString("type", e.Type);
        NullableString(w, "param", e.Param);
        NullableString(w, "code", e.Code);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    public static byte[] ChatCompletion(string id, long created, string model, GenerationResult r) => Json(w =>
    {
        Head(w, id, "chat.completion", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        w.WriteString("content", Clean(r.Text));
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", Finish(r.FinishReason));
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, r);
        w.WriteEndObject();
    });

    /// <summary>One chat.completion.chunk: the role (first chunk), a piece of content, or the finish reason (last).</summary>
    public static byte[] ChatChunk(string id, long created, string model, bool role, string? content, StopReason? finish, bool usageField) => Json(w =>
    {
        Head(w, id, "chat.completion.chunk", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        if (role) w.WriteString("role", "assistant");
        if (content is not null) w.WriteString("content", Clean(content));
        w.WriteEndObject();
        w.WriteNull("logprobs");
        NullableString(w, "finish_reason", finish is { } f ? Finish(f) : null);
        w.WriteEndObject();
        w.WriteEndArray();
        if (usageField) w.WriteNull("usage");
        w.WriteEndObject();
    });

    public static byte[] Completion(string id, long created, string model, GenerationResult r) => Json(w =>
    {
        Head(w, id, "text_completion", created, model);
        w.WriteStartArray("choices");
        CompletionChoice(w, r.Echo is null ? r.Text : r.Echo + r.Text, r.FinishReason, r.LogProbs);
        w.WriteEndArray();
        Usage(w, r);
        w.WriteEndObject();
    });

    /// <summary>One streamed text_completion: a piece of text, or the finish reason (last).</summary>
    public static byte[] CompletionChunk(string id, long created, string model, string text, StopReason? finish, bool usageField) => Json(w =>
    {
        Head(w, id, "text_completion", created, model);
        w.WriteStartArray("choices");
        CompletionChoice(w, text, finish);
        w.WriteEndArray();
        if (usageField) w.WriteNull("usage");
        w.WriteEndObject();
    });

    /// <summary>The last chunk of a stream whose client asked for stream_options.include_usage: no choices, the usage.</summary>
    public static byte[] UsageChunk(string id, string obj, long created, string model, GenerationResult r) => Json(w =>
    {
        Head(w, id, obj, created, model);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, r);
        w.WriteEndObject();
    });

    /// <summary>OpenAI's finish reasons: "stop" (end of turn or a stop string) or "length" (max_tokens or the context).</summary>
    public static string Finish(StopReason r) => r is StopReason.Stop ? "stop" : "length";

    /// <summary>
    /// The text with unpaired surrogates replaced by U+FFFD: such a string cannot be written as UTF-8, and a client's
    /// stop string or an error message quoting a request can produce one.
    /// </summary>
    public static string Clean(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (!char.IsSurrogate(s[i])) continue;
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            var chars = s.ToCharArray();
            for (int j = i; j < chars.Length; j++)
            {
                if (!char.IsSurrogate(chars[j])) continue;
                if (char.IsHighSurrogate(chars[j]) && j + 1 < chars.Length && char.IsLowSurrogate(chars[j + 1])) { j++; continue; }
                chars[j] = '\uFFFD';
            }
            return new string(chars);
        }
        return s;
    }

    private static void Head(Utf8JsonWriter w, string id, string obj, long created, string model)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", obj);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void CompletionChoice(Utf8JsonWriter w, string text, StopReason? finish, CompletionLogProbs? logProbs = null)
    {
        w.WriteStartObject();
        w.WriteString("text", Clean(text));
        w.WriteNumber("index", 0);
        if (logProbs is null) w.WriteNull("logprobs");
        else LogProbs(w, logProbs);
        NullableString(w, "finish_reason", finish is { } f ? Finish(f) : null);
        w.WriteEndObject();
    }

    /// <summary>
    /// OpenAI's legacy logprobs object: parallel lists tokens, token_logprobs (null for the sequence's first token),
    /// top_logprobs ({token text: log-probability}, most likely first) and text_offset. Numbers are written in full
    /// (shortest round-trip form), so a client reads back exactly the doubles the server computed.
    /// </summary>
    private static void LogProbs(Utf8JsonWriter w, CompletionLogProbs p)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var t in p.Tokens) w.WriteStringValue(Clean(t));
        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var l in p.TokenLogProbs) Number(w, l);
        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var top in p.TopLogProbs)
        {
            if (top is null) { w.WriteNullValue(); continue; }
            w.WriteStartObject();
            // An object cannot repeat a key: two tokens with the same text (a byte token and a piece) keep the likelier.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (token, l) in top)
            {
                var key = Clean(token);
                if (!seen.Add(key)) continue;
                w.WritePropertyName(key);
                Number(w, l);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (var o in p.TextOffsets) w.WriteNumberValue(o);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A log-probability, or null where it is not finite (a logit of −∞): JSON has no infinities.</summary>
    private static void Number(Utf8JsonWriter w, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumberValue(v);
        else w.WriteNullValue();
    }

    private static void Usage(Utf8JsonWriter w, GenerationResult r)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", r.PromptTokens);
        w.WriteNumber("completion_tokens", r.CompletionTokens);
        w.WriteNumber("total_tokens", r.PromptTokens + r.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", r.CachedTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void NullableString(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
