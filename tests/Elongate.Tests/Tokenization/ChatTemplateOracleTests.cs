using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Tests.Formats;
using Elongate.Tokenization;
using LLama.Native;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Every chat template against llama.cpp itself (llama_chat_apply_template in the build LLamaSharp.Backend.Cpu
/// ships): by name, over conversations chosen to hit each template's corner (no system message, only a system
/// message, several or late system messages, a leading assistant turn, whitespace to trim, empty text, tool roles), with
/// and without the generation prompt; and detection, by rendering Jinja texts through both.
/// </summary>
public class ChatTemplateOracleTests
{
    /// <summary>Names of ours that llama.cpp does not take as a name (it reaches them only by detection, or is older).</summary>
    private static readonly string[] OursOnly = ["dots1", "deepseek4"];

    private static readonly (string Label, ChatTurn[] Turns)[] Conversations =
    [
        ("llama.cpp's test conversation", ChatTemplateVectors.Conversation),
        ("no system", [new("user", "Hello"), new("assistant", "Hi there"), new("user", "Who are you")]),
        ("system only", [new("system", "You are a helpful assistant")]),
        ("empty", []),
        ("assistant first", [new("assistant", "Welcome!"), new("user", "Thanks")]),
        ("ends with the assistant", [new("system", "Be terse."), new("user", "2+2?"), new("assistant", "4")]),
        ("several and late system messages",
        [
            new("system", "First rule."), new("system", " Second rule. "), new("user", "Q1"), new("assistant", "A1"),
            new("system", "Late rule."), new("user", "Q2"),
        ]),
        ("whitespace and non-ASCII",
        [
            new("system", "\t sys \n"), new("user", " \u00A0hé\r\n"), new("assistant", "\v\fanswer "), new("user", "line1\nline2 "),
        ]),
        ("empty text", [new("system", ""), new("user", ""), new("assistant", ""), new("user", "x")]),
        ("tool turn", [new("user", "Weather?"), new("assistant", "{\"call\": 1}"), new("tool", "{\"t\": 72}"), new("user", "Thanks")]),
        ("granite tool call",
        [
            new("system", "S"), new("user", "Weather?"), new("assistant_tool_call", "[{\"name\": \"w\"}]"),
            new("tool_response", "{\"t\": 72}"),
        ]),
        ("pangu function", [new("user", "Q"), new("function", "f()"), new("assistant", "A")]),
    ];

    public static TheoryData<string> Names() => [.. ChatTemplate.Names];

    [Fact]
    public void LlamaCppsTemplateNamesAreAllOurs()
    {
        var native = NativeNames();
        Assert.Equal(Array.Empty<string>(), native.Where(n => !ChatTemplate.Names.Contains(n)).ToArray()); // lists what is missing
        Assert.Equal(Array.Empty<string>(), ChatTemplate.Names.Where(n => !native.Contains(n) && !OursOnly.Contains(n)).ToArray()); // lists what is missing
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RendersEveryConversationAsLlamaCppDoes(string name)
    {
        var template = ChatTemplate.FromName(name);
        // Ours-only names are compared through a Jinja text that llama.cpp detects as that template.
        var nativeSpec = name switch
        {
            "dots1" => "<|endofuserprompt|>",
            "deepseek4" => "<\uFF5CAssistant\uFF5C><\uFF5CUser\uFF5C><\uFF5Cend\u2581of\u2581sentence\uFF5C> reasoning_effort",
            _ => name,
        };
        int compared = 0;
        foreach (var (label, turns) in Conversations)
        {
            if (turns.Any(t => !template.Roles.Contains(t.Role))) continue;
            foreach (var add in new[] { true, false })
            {
                var expected = NativeApply(nativeSpec, turns, add);
                Assert.NotNull(expected);
                var actual = template.Apply(turns, add);
                Assert.True(expected == actual, $"{name}, {label}, addAssistantPrompt={add}:\nllama.cpp: {Show(expected)}\nElongate:  {Show(actual)}");
                compared++;
            }
        }
        Assert.True(compared >= 16, $"{name}: only {compared} comparisons");
    }

    /// <summary>One Jinja-like text per branch of llm_chat_detect_template, in its order, plus texts that match none.</summary>
    private static readonly string[] DetectionProbes =
    [
        "<|im_start|>", "<|im_start|><|im_sep|>", "<|im_start|><end_of_utterance>",
        "mistral", "mistral-custom", "[INST]", "[INST][SYSTEM_PROMPT]", "[INST]' [INST] ' + system_message",
        "[AVAILABLE_TOOLS] \"[INST]\"", "[AVAILABLE_TOOLS]\"[INST]\"", "[AVAILABLE_TOOLS][INST]",
        "[INST] content.strip() <<SYS>>", "[INST]bos_token + '[INST]", "[INST]<<SYS>>",
        "<|assistant|><|end|>", "[gMASK]<sop>", "<|assistant|><|user|>", "<|assistant|><|user|></s>",
        "<|assistant|><|user|><|tool_declare|>", "<|{{ item['role'] }}|><|begin_of_image|>", "<|user|><|endoftext|>",
        "bos_token + message['role']", "<start_of_turn>", "'\\n\\nAssistant: ' + eos_token", "GPT4 Correct ",
        "USER: ASSISTANT: ", "USER: ASSISTANT: SYSTEM: ", "### Instruction:<|EOT|>", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
        "<|start_header_id|><|end_header_id|>", "[gMASK]sop", "<\u7528\u6237>", "'Assistant: ' + message['content'] + eos_token",
        "<\uFF5CAssistant\uFF5C><\uFF5CUser\uFF5C><\uFF5Cend\u2581of\u2581sentence\uFF5C>",
        "<\uFF5CAssistant\uFF5C><\uFF5CUser\uFF5C><\uFF5Cend\u2581of\u2581sentence\uFF5C>latest_reminder",
        "[|system|][|assistant|][|endofturn|]", "[|system|][|assistant|][|endofturn|][|tool|]",
        "rwkv-world-ish", "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}",
        "<|start_of_role|>", "<|start_of_role|><tools>", "<|start_of_role|><tool_call> g4_default_system_message",
        "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]",
        "<|role_start|>", " \u0410\u0441\u0441\u0438\u0441\u0442\u0435\u043D\u0442:", "<role>ASSISTANT</role>'HUMAN'",
        "<role>ASSISTANT</role>\"HUMAN\"<think>", "<role>ASSISTANT</role><role>HUMAN</role><|role_end|>",
        "<|header_start|><|header_end|>", "<|endofuserprompt|>", "<|extra_0|><|extra_4|>", "<|start|><|channel|>",
        "<\uFF5Chy_Assistant\uFF5C><\uFF5Chy_begin\u2581of\u2581sentence\uFF5C>",
        "<\uFF5Chy_Assistant\uFF5C><\uFF5Chy_place\u2581holder\u2581no\u25813\uFF5C>",
        "<|im_assistant|>assistant<|im_middle|>", "<seed:bos>", "'Assistant: '  + message['content'] + '<|separator|>",
        "[unused9]\u7CFB\u7EDF\uFF1A[unused10]", "<|begin|><|end|><|content|>",
        "", "{% for m in messages %}{{ m.content }}{% endfor %}", "CHATML", "<|startoftext|><|extra_4|>",
    ];

    public static TheoryData<string> DetectionTexts()
    {
        var data = new TheoryData<string>();
        foreach (var p in DetectionProbes) data.Add(p);
        foreach (var c in ChatTemplateVectors.Cases) data.Add(c.Jinja);
        foreach (var n in ChatTemplate.Names.Where(n => !OursOnly.Contains(n))) data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(DetectionTexts))]
    public void DetectsWhatLlamaCppDetects(string jinja)
    {
        // Rendering a conversation that tells the templates apart (a tool-call turn separates granite 3 and 4,
        // a tool turn exaone 3 and 4, deepseek3 and 4 render alike) shows which template llama.cpp picked.
        ChatTurn[] turns = [.. ChatTemplateVectors.Conversation];
        var expected = NativeApply(jinja, turns, addAssistantPrompt: true);
        if (expected is null)
        {
            Assert.Throws<ModelFormatException>(() => ChatTemplate.Detect(jinja, "probe"));
            return;
        }
        var template = ChatTemplate.Detect(jinja, "probe");
        Assert.Equal(expected, template.Apply(turns, addAssistantPrompt: true));
        foreach (var (label, probe) in Conversations.Where(c => c.Label.Contains("tool")))
            if (probe.All(t => template.Roles.Contains(t.Role)))
                Assert.True(NativeApply(jinja, probe, true) == template.Apply(probe, true), $"{template.Name}, {label}");
    }

    private static string Show(string? s) => s is null ? "(null)" : s.Replace("\n", "\\n").Replace("\r", "\\r");

    private static string[] NativeNames()
    {
        LlamaCppNative.EnsureLoaded();
        lock (LlamaCppNative.Lock)
        {
            unsafe
            {
                int n = NativeApi.llama_chat_builtin_templates(null, 0);
                var ptrs = new IntPtr[n];
                fixed (IntPtr* p = ptrs) NativeApi.llama_chat_builtin_templates((char**)p, (nuint)n);
                return [.. ptrs.Select(p => Marshal.PtrToStringUTF8(p)!)];
            }
        }
    }

    /// <summary>llama_chat_apply_template(<paramref name="template"/>, …): null where llama.cpp reports an unknown template.</summary>
    private static unsafe string? NativeApply(string template, IReadOnlyList<ChatTurn> turns, bool addAssistantPrompt)
    {
        LlamaCppNative.EnsureLoaded();
        var owned = new List<IntPtr>();
        byte* Utf8(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            owned.Add(p);
            return (byte*)p;
        }
        try
        {
            var messages = new LLamaChatMessage[turns.Count];
            for (int i = 0; i < turns.Count; i++)
            {
                messages[i].role = Utf8(turns[i].Role);
                messages[i].content = Utf8(turns[i].Content);
            }
            var tmpl = Utf8(template);
            lock (LlamaCppNative.Lock)
            {
                var buffer = new byte[4096];
                while (true)
                {
                    int length;
                    fixed (LLamaChatMessage* m = messages)
                    fixed (byte* b = buffer)
                        length = NativeApi.llama_chat_apply_template(tmpl, m, (nuint)messages.Length, addAssistantPrompt, b, buffer.Length);
                    if (length < 0) return null;
                    if (length <= buffer.Length) return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
                    buffer = new byte[length];
                }
            }
        }
        finally
        {
            foreach (var p in owned) Marshal.FreeCoTaskMem(p);
        }
    }
}
