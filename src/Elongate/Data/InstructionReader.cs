using System.Text;
using System.Text.Json;
using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>
/// Reads instruction-tuning examples from JSON Lines, one example per line, in the formats datasets come in. The
/// format is recognised per line, by its keys, so files may mix them:
/// <list type="bullet">
/// <item><b>chat</b> (OpenAI, Hugging Face): <c>{"messages":[{"role":"user","content":"…"},…]}</c>; a content is a
/// string or a list of parts <c>{"type":"text","text":"…"}</c> (joined without separator, as OpenAI does);</item>
/// <item><b>ShareGPT</b>: <c>{"conversations":[{"from":"human","value":"…"},{"from":"gpt","value":"…"}]}</c>
/// ("human" → user, "gpt" → assistant);</item>
/// <item><b>Alpaca</b>: <c>{"instruction":"…","input":"…","output":"…","system":"…"}</c> → an optional system
/// turn, a user turn (the instruction, plus a blank line and the input when the input is not empty, as Alpaca's own
/// prompt puts them) and the assistant turn (the output); "input" and "system" may be absent or empty;</item>
/// <item><b>prompt/completion</b>: <c>{"prompt":"…","completion":"…"}</c> → user and assistant turns; TRL's
/// conversational variant, where both are message lists, is the conversation prompt + completion.</item>
/// </list>
/// When a line has keys of several formats, the first in this order wins ("messages" datasets often keep the original
/// "prompt" beside it). Other keys are ignored. Blank lines are skipped.
/// </summary>
/// <remarks>
/// <para><b>Nothing is dropped silently.</b> A line that is not valid JSON, has none of the shapes above, lacks a
/// required field, has an empty one (empty or only whitespace) or one of the wrong type, or whose conversation does not
/// end with an assistant turn (a conversation with no assistant turn at all says so) throws an
/// <see cref="InstructionDataException"/> naming the file and line, and reading stops there: a data set with a bad
/// line is fixed, not trained on with a hole in it. Earlier assistant turns (multi-turn dialogues) are fine.</para>
/// <para>Reading is lazy: the error surfaces when the enumeration reaches the line.</para>
/// </remarks>
public static class InstructionReader
{
    /// <summary>Every example of the JSON Lines file <paramref name="path"/>, in file order, ids "name:line".</summary>
    /// <exception cref="InstructionDataException">A line is not a valid example (when the enumeration reaches it).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IEnumerable<InstructionExample> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Checked now, so a missing file fails at the call rather than at the first MoveNext; the file itself is opened
        // by each enumeration, so the sequence can be enumerated more than once.
        if (!File.Exists(path)) throw new FileNotFoundException($"instruction data {path} does not exist", path);
        return ReadFile(path);
    }

    private static IEnumerable<InstructionExample> ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        foreach (var e in Read(reader, path)) yield return e;
    }

    /// <summary>Every example read from <paramref name="reader"/>; <paramref name="source"/> names it in ids and errors.</summary>
    /// <exception cref="InstructionDataException">A line is not a valid example (when the enumeration reaches it).</exception>
    public static IEnumerable<InstructionExample> Read(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        var name = Path.GetFileName(source);
        if (name.Length == 0) name = source;
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return Parse(line, source, lineNumber, $"{name}:{lineNumber}");
        }
    }

    /// <summary>Parses one JSON Lines line into an example with id <paramref name="id"/>.</summary>
    /// <exception cref="InstructionDataException">The line is not a valid example.</exception>
    public static InstructionExample Parse(string line, string source, int lineNumber, string id)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new InstructionDataException(source, lineNumber, $"is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var at = new Line(source, lineNumber);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw at.Error($"is {Kind(root)} in JSON, not an object");
            List<ChatTurn> messages;
            if (root.TryGetProperty("messages", out var m)) messages = at.Messages(m, "messages", "role", "content");
            else if (root.TryGetProperty("conversations", out var c)) messages = at.Messages(c, "conversations", "from", "value");
            else if (root.TryGetProperty("instruction", out _)) messages = at.Alpaca(root);
            else if (root.TryGetProperty("prompt", out _)) messages = at.PromptCompletion(root);
            else
            {
                var keys = string.Join(", ", root.EnumerateObject().Select(p => $"\"{p.Name}\"").Take(8));
                throw at.Error("is not an instruction example: expected \"messages\" (chat), \"conversations\" (ShareGPT), " +
                    $"\"instruction\" + \"output\" (Alpaca) or \"prompt\" + \"completion\"; its keys are {(keys.Length == 0 ? "none" : keys)}");
            }
            if (!messages.Any(t => t.Role == "assistant"))
                throw at.Error("has no assistant turn: there is no answer to train on");
            if (messages[^1].Role != "assistant")
                throw at.Error($"ends with a '{messages[^1].Role}' turn; the last turn must be the assistant's answer");
            return new InstructionExample(id, messages);
        }
    }

    /// <summary>What a JSON value is, with its article: "a string", "an array", "null".</summary>
    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        _ => "an object",
    };

    /// <summary>The line being parsed, for errors that name it.</summary>
    private readonly record struct Line(string Source, int Number)
    {
        public InstructionDataException Error(string problem) => new(Source, Number, problem);

        /// <summary>A chat message list: objects with a role key and a content key.</summary>
        public List<ChatTurn> Messages(JsonElement list, string field, string roleKey, string contentKey)
        {
            if (list.ValueKind != JsonValueKind.Array) throw Error($"\"{field}\" is {Kind(list)}, not an array of messages");
            var turns = new List<ChatTurn>();
            int i = 0;
            foreach (var m in list.EnumerateArray())
            {
                var where = $"{field}[{i++}]";
                if (m.ValueKind != JsonValueKind.Object) throw Error($"{where} is {Kind(m)}, not an object with \"{roleKey}\" and \"{contentKey}\"");
                var role = RequiredString(m, roleKey, where).Trim().ToLowerInvariant();
                if (field == "conversations") role = role switch { "human" => "user", "gpt" => "assistant", _ => role };
                if (!m.TryGetProperty(contentKey, out var content)) throw Error($"{where} ({role}) has no \"{contentKey}\"");
                turns.Add(new ChatTurn(role, Content(content, $"{where}.{contentKey}")));
            }
            if (turns.Count == 0) throw Error($"\"{field}\" is empty");
            return turns;
        }

        /// <summary>A content: a string, or a list of text parts.</summary>
        private string Content(JsonElement content, string where)
        {
            string text;
            if (content.ValueKind == JsonValueKind.String) text = content.GetString()!;
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var sb = new StringBuilder();
                int i = 0;
                foreach (var part in content.EnumerateArray())
                {
                    var partWhere = $"{where}[{i++}]";
                    if (part.ValueKind != JsonValueKind.Object) throw Error($"{partWhere} is {Kind(part)}, not a {{\"type\":\"text\",\"text\":…}} part");
                    var type = part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    if (type != "text")
                        throw Error($"{partWhere} is a \"{type ?? "untyped"}\" part; only text parts can be trained on");
                    sb.Append(RequiredString(part, "text", partWhere, allowEmpty: true));
                }
                text = sb.ToString();
            }
            else throw Error($"{where} is {Kind(content)}, not a string or a list of text parts");
            if (string.IsNullOrWhiteSpace(text)) throw Error($"{where} is empty");
            return text;
        }

        /// <summary>Alpaca: instruction (+ blank line + input), output, optional system.</summary>
        public List<ChatTurn> Alpaca(JsonElement root)
        {
            var instruction = RequiredString(root, "instruction", "Alpaca example");
            var input = OptionalString(root, "input");
            var output = RequiredString(root, "output", "Alpaca example");
            var system = OptionalString(root, "system");
            var turns = new List<ChatTurn>(3);
            if (!string.IsNullOrWhiteSpace(system)) turns.Add(new ChatTurn("system", system));
            turns.Add(new ChatTurn("user", string.IsNullOrWhiteSpace(input) ? instruction : instruction + "\n\n" + input));
            turns.Add(new ChatTurn("assistant", output));
            return turns;
        }

        /// <summary>prompt/completion: two strings, or (TRL's conversational form) two message lists.</summary>
        public List<ChatTurn> PromptCompletion(JsonElement root)
        {
            var prompt = root.GetProperty("prompt");
            if (!root.TryGetProperty("completion", out var completion))
                throw Error("has \"prompt\" but no \"completion\" (a prompt/completion example needs both)");
            if (prompt.ValueKind == JsonValueKind.Array)
            {
                if (completion.ValueKind != JsonValueKind.Array)
                    throw Error($"\"prompt\" is a message list but \"completion\" is {Kind(completion)}; both must be lists or both strings");
                return [.. Messages(prompt, "prompt", "role", "content"), .. Messages(completion, "completion", "role", "content")];
            }
            return [new ChatTurn("user", RequiredString(root, "prompt", "prompt/completion example")),
                new ChatTurn("assistant", RequiredString(root, "completion", "prompt/completion example"))];
        }

        private string RequiredString(JsonElement obj, string key, string where, bool allowEmpty = false)
        {
            if (!obj.TryGetProperty(key, out var v)) throw Error($"{where} has no \"{key}\"");
            if (v.ValueKind != JsonValueKind.String) throw Error($"\"{key}\" of {where} is {Kind(v)}, not a string");
            var s = v.GetString()!;
            if (!allowEmpty && string.IsNullOrWhiteSpace(s)) throw Error($"\"{key}\" of {where} is empty");
            return s;
        }

        private string? OptionalString(JsonElement obj, string key)
        {
            if (!obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind != JsonValueKind.String) throw Error($"\"{key}\" is {Kind(v)}, not a string");
            return v.GetString();
        }
    }
}
