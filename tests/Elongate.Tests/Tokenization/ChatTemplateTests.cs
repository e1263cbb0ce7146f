using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Chat templates against llama.cpp: its test vectors (<see cref="ChatTemplateVectors"/>, rendering and detection),
/// its system-message and incremental-format expectations, and the API's own contract. The native comparison for every
/// template and many conversations is in <see cref="ChatTemplateOracleTests"/>.
/// </summary>
public class ChatTemplateTests
{
    /// <summary>Cases by model name (a string, so each shows as its own test).</summary>
    public static TheoryData<string> Vectors() => [.. ChatTemplateVectors.Cases.Select(c => c.Model)];

    private static ChatTemplateVectors.Case Case(string model) => ChatTemplateVectors.Cases.Single(c => c.Model == model);

    private static ChatTurn[] Conversation(ChatTemplateVectors.Case c) => [.. ChatTemplateVectors.Conversation, .. c.Extra ?? []];

    [Theory]
    [MemberData(nameof(Vectors))]
    public void RendersLlamaCppsExpectedOutput(string model)
    {
        var c = Case(model);
        Assert.Equal(c.Expected, ChatTemplate.FromName(c.Template).Apply(Conversation(c), addAssistantPrompt: true));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void DetectsTheTemplateFromItsJinja(string model)
    {
        var c = Case(model);
        var t = ChatTemplate.Detect(c.Jinja, "tokenizer_config.json");
        Assert.Equal(c.Template, t.Name);
        Assert.Equal(c.Expected, t.Apply(Conversation(c), addAssistantPrompt: true));
    }

    /// <summary>
    /// The same conversation through the templates llama.cpp's test file has no case for: the strings are what
    /// llama_chat_apply_template returned, by name, in the llama.cpp build of LLamaSharp.Backend.Cpu 0.30.0 (deepseek4
    /// and dots1, which that build reaches only by detection, from a Jinja text with their markers). They agree with the
    /// rules of src/llama-chat.cpp (ggml-org/llama.cpp 0192c1297ddde77b0d9688179779e4218cf04db4 and later).
    /// </summary>
    private static readonly Dictionary<string, string> RenderedByLlamaCpp = new()
    {
        ["bailing-think"] = "<role>SYSTEM</role>You are a helpful assistant<role>HUMAN</role>Hello<role>ASSISTANT</role>Hi there<role>HUMAN</role>Who are you<role>ASSISTANT</role>   I am an assistant   <role>HUMAN</role>Another question<role>ASSISTANT</role><think>",
        ["bailing2"] = "<role>SYSTEM</role>You are a helpful assistant<|role_end|><role>HUMAN</role>Hello<|role_end|><role>ASSISTANT</role>Hi there<|role_end|><role>HUMAN</role>Who are you<|role_end|><role>ASSISTANT</role>   I am an assistant   <|role_end|><role>HUMAN</role>Another question<|role_end|><role>ASSISTANT</role>",
        ["deepseek-ocr"] = "You are a helpful assistantHelloHi thereWho are you   I am an assistant   Another question",
        ["deepseek3"] = "You are a helpful assistant\n\n<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another question<｜Assistant｜>",
        ["exaone-moe"] = "<|system|>\nYou are a helpful assistant<|endofturn|>\n<|user|>\nHello<|endofturn|>\n<|assistant|>\nHi there<|endofturn|>\n<|user|>\nWho are you<|endofturn|>\n<|assistant|>\nI am an assistant<|endofturn|>\n<|user|>\nAnother question<|endofturn|>\n<|assistant|>\n",
        ["exaone3"] = "[|system|]You are a helpful assistant[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n[|user|]Who are you\n[|assistant|]I am an assistant[|endofturn|]\n[|user|]Another question\n[|assistant|]",
        ["exaone4"] = "[|system|]You are a helpful assistant[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n[|user|]Who are you\n[|assistant|]I am an assistant[|endofturn|]\n[|user|]Another question\n[|assistant|]",
        ["falcon3"] = "<|system|>\nYou are a helpful assistant\n<|user|>\nHello\n<|assistant|>\nHi there\n<|user|>\nWho are you\n<|assistant|>\n   I am an assistant   \n<|user|>\nAnother question\n<|assistant|>\n",
        ["gpt-oss"] = "<|start|>system<|message|>You are a helpful assistant<|end|><|start|>user<|message|>Hello<|end|><|start|>assistant<|message|>Hi there<|return|><|start|>user<|message|>Who are you<|end|><|start|>assistant<|message|>   I am an assistant   <|return|><|start|>user<|message|>Another question<|end|><|start|>assistant",
        ["grok-2"] = "System: You are a helpful assistant<|separator|>\n\nHuman: Hello<|separator|>\n\nAssistant: Hi there<|separator|>\n\nHuman: Who are you<|separator|>\n\nAssistant:    I am an assistant   <|separator|>\n\nHuman: Another question<|separator|>\n\nAssistant:",
        ["hunyuan-dense"] = "You are a helpful assistant<｜hy_place▁holder▁no▁3｜><｜hy_User｜>Hello<｜hy_Assistant｜><｜hy_Assistant｜>Hi there<｜hy_place▁holder▁no▁2｜><｜hy_User｜>Who are you<｜hy_Assistant｜><｜hy_Assistant｜>   I am an assistant   <｜hy_place▁holder▁no▁2｜><｜hy_User｜>Another question<｜hy_Assistant｜>",
        ["hunyuan-moe"] = "<|startoftext|>You are a helpful assistant<|extra_4|><|startoftext|>Hello<|extra_0|>Hi there<|eos|><|startoftext|>Who are you<|extra_0|>   I am an assistant   <|eos|><|startoftext|>Another question<|extra_0|>",
        ["hunyuan-vl"] = "<｜hy_begin▁of▁sentence｜>You are a helpful assistant<｜hy_place▁holder▁no▁3｜>Hello<｜hy_User｜>Hi there<｜hy_Assistant｜>Who are you<｜hy_User｜>   I am an assistant   <｜hy_Assistant｜>Another question<｜hy_User｜>",
        ["kimi-k2"] = "<|im_system|>system<|im_middle|>You are a helpful assistant<|im_end|><|im_user|>user<|im_middle|>Hello<|im_end|><|im_assistant|>assistant<|im_middle|>Hi there<|im_end|><|im_user|>user<|im_middle|>Who are you<|im_end|><|im_assistant|>assistant<|im_middle|>   I am an assistant   <|im_end|><|im_user|>user<|im_middle|>Another question<|im_end|><|im_assistant|>assistant<|im_middle|>",
        ["llama2-sys"] = "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]",
        ["llama4"] = "<|header_start|>system<|header_end|>\n\nYou are a helpful assistant<|eot|><|header_start|>user<|header_end|>\n\nHello<|eot|><|header_start|>assistant<|header_end|>\n\nHi there<|eot|><|header_start|>user<|header_end|>\n\nWho are you<|eot|><|header_start|>assistant<|header_end|>\n\nI am an assistant<|eot|><|header_start|>user<|header_end|>\n\nAnother question<|eot|><|header_start|>assistant<|header_end|>\n\n",
        ["mistral-v7-tekken"] = "[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]",
        ["pangu-embedded"] = "[unused9]系统：You are a helpful assistant[unused10][unused9]用户：Hello[unused10][unused9]助手：Hi there[unused10][unused9]用户：Who are you[unused10][unused9]助手：   I am an assistant   [unused10][unused9]用户：Another question[unused10][unused9]助手：",
        ["rwkv-world"] = "System: You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there\n\nUser: Who are you\n\nAssistant: I am an assistant\n\nUser: Another question\n\nAssistant:",
        ["smolvlm"] = "<|im_start|>You are a helpful assistant\n\nUser: Hello<end_of_utterance>\nAssistant: Hi there<end_of_utterance>\nUser: Who are you<end_of_utterance>\nAssistant:    I am an assistant   <end_of_utterance>\nUser: Another question<end_of_utterance>\nAssistant:",
        ["solar-open"] = "<|begin|>system<|content|>You are a helpful assistant<|end|><|begin|>user<|content|>Hello<|end|><|begin|>assistant<|content|>Hi there<|end|><|begin|>user<|content|>Who are you<|end|><|begin|>assistant<|content|>   I am an assistant   <|end|><|begin|>user<|content|>Another question<|end|><|begin|>assistant",
        ["zephyr"] = "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n",
        ["deepseek4"] = "You are a helpful assistant\n\n<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>Who are you<｜Assistant｜>   I am an assistant   <｜end▁of▁sentence｜><｜User｜>Another question<｜Assistant｜>",
        ["dots1"] = "<|system|>You are a helpful assistant<|endofsystem|><|userprompt|>Hello<|endofuserprompt|><|response|>Hi there<|endofresponse|><|userprompt|>Who are you<|endofuserprompt|><|response|>   I am an assistant   <|endofresponse|><|userprompt|>Another question<|endofuserprompt|><|response|>",
    };

    public static TheoryData<string> TemplatesWithoutVector() => [.. RenderedByLlamaCpp.Keys];

    [Theory]
    [MemberData(nameof(TemplatesWithoutVector))]
    public void RendersWhatLlamaCppRendersForTemplatesWithoutATestVector(string name) =>
        Assert.Equal(RenderedByLlamaCpp[name], ChatTemplate.FromName(name).Apply(ChatTemplateVectors.Conversation, addAssistantPrompt: true));

    [Fact]
    public void EveryTemplateHasAnExpectedRendering()
    {
        var covered = ChatTemplateVectors.Cases.Select(c => c.Template).Concat(RenderedByLlamaCpp.Keys).ToHashSet();
        Assert.Equal(Array.Empty<string>(), ChatTemplate.Names.Where(n => !covered.Contains(n)).ToArray()); // lists what is missing
        Assert.Equal(ChatTemplate.Names.Count, ChatTemplate.Names.Distinct().Count());
    }

    /// <summary>
    /// common_chat_format_single with no history: a system message alone, no generation prompt (the fmt_sys asserts of
    /// tests/test-chat-template.cpp at ggerganov/llama.cpp 63e489c025d61c7ca5ec06c5d10f36e2b76aaa1d). "mistral" is not
    /// a name but the prefix rule of detection, which gives llama2; gemma holds the system text for the next user turn.
    /// </summary>
    [Theory]
    [InlineData("chatml", "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n")]
    [InlineData("mistral-v1", " [INST] You are a helpful assistant\n\n")]
    [InlineData("mistral-v3", "[INST] You are a helpful assistant\n\n")]
    [InlineData("mistral-v3-tekken", "[INST]You are a helpful assistant\n\n")]
    [InlineData("mistral-v7", "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT]")]
    [InlineData("llama2", "[INST] You are a helpful assistant\n")]
    [InlineData("llama2-sys", "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\n")]
    [InlineData("mistral", "[INST] You are a helpful assistant\n")]
    [InlineData("gemma", "")]
    [InlineData("llama3", "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>")]
    [InlineData("gigachat", "<s>You are a helpful assistant<|message_sep|>")]
    public void FormatsASystemMessageAlone(string template, string expected) =>
        Assert.Equal(expected, FormatSingle(template, [], new("system", "You are a helpful assistant"), addAssistantPrompt: false));

    /// <summary>
    /// common_chat_format_single after a history: the new user turn and the generation prompt (fmt_single asserts, same
    /// file and commit). The leading "\n" of chatml and gemma is common_chat_format_single's, not the template's.
    /// </summary>
    [Theory]
    [InlineData("chatml", "\n<|im_start|>user\nHow are you<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("mistral-v1", " [INST] How are you [/INST]")]
    [InlineData("mistral-v3", "[INST] How are you[/INST]")]
    [InlineData("mistral-v3-tekken", "[INST]How are you[/INST]")]
    [InlineData("mistral-v7", "[INST] How are you[/INST]")]
    [InlineData("llama2", "[INST] How are you [/INST]")]
    [InlineData("mistral", "[INST] How are you [/INST]")]
    [InlineData("gemma", "\n<start_of_turn>user\nHow are you<end_of_turn>\n<start_of_turn>model\n")]
    [InlineData("llama3", "<|start_header_id|>user<|end_header_id|>\n\nHow are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("gigachat", "user<|role_sep|>How are you<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>")]
    public void FormatsOneMoreTurnAfterAHistory(string template, string expected)
    {
        ChatTurn[] history = [new("system", "You are a helpful assistant"), new("user", "Hello"), new("assistant", "I am assistant")];
        Assert.Equal(expected, FormatSingle(template, history, new("user", "How are you"), addAssistantPrompt: true));
    }

    /// <summary>llama.cpp's common_chat_format_single (common/chat.cpp) on top of <see cref="ChatTemplate.Apply"/>.</summary>
    private static string FormatSingle(string template, ChatTurn[] history, ChatTurn next, bool addAssistantPrompt)
    {
        var t = ChatTemplate.Detect(template, "--chat-template"); // a name is detected as itself, as in llama.cpp
        var past = history.Length == 0 ? "" : t.Apply(history, addAssistantPrompt: false);
        var full = t.Apply([.. history, next], addAssistantPrompt);
        Assert.StartsWith(past, full);
        // "if the past_msg ends with a newline, we must preserve it in the formatted version"
        var newline = addAssistantPrompt && past.EndsWith('\n') ? "\n" : "";
        return newline + full[past.Length..];
    }

    [Fact]
    public void NamesAreLlamaCppsIncludingTheRequiredOnes()
    {
        string[] required = ["llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "llama3", "chatml", "mistral-v1",
            "mistral-v3", "mistral-v3-tekken", "mistral-v7", "phi3", "phi4", "zephyr", "gemma", "deepseek", "deepseek2",
            "deepseek3", "vicuna", "vicuna-orca", "openchat", "monarch", "orion", "falcon3", "command-r", "granite",
            "llama4", "smolvlm"];
        Assert.Equal(Array.Empty<string>(), required.Where(n => !ChatTemplate.Names.Contains(n)).ToArray()); // lists what is missing
        foreach (var n in ChatTemplate.Names) Assert.Equal(n, ChatTemplate.FromName(n).Name);
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ChatTemplate.FromName("llama-3"));
        Assert.Contains("'llama-3'", e.Message);
        Assert.Contains("llama3", e.Message);
        Assert.Contains("chatml", e.Message);
        Assert.Throws<ArgumentException>(() => ChatTemplate.FromName("ChatML")); // case-sensitive, as llama.cpp
    }

    [Fact]
    public void UnrecognisedJinjaIsAModelFormatErrorThatSaysWhatToDo()
    {
        var jinja = "{% for m in messages %}<<turn {{ m.role }}>>\n{{ m.content }}{% endfor %}" + new string('x', 200);
        var e = Assert.Throws<ModelFormatException>(() => ChatTemplate.Detect(jinja, "model.gguf"));
        Assert.Equal("model.gguf", e.FilePath);
        Assert.Equal("tokenizer.chat_template", e.Key);
        Assert.Contains("{% for m in messages %}<<turn {{ m.role }}>>\\n{{ m.content }}", e.Message); // newline shown escaped
        Assert.DoesNotContain(new string('x', 100), e.Message); // only the start is quoted
        Assert.Contains("--chat-template NAME", e.Message);
        Assert.Contains("chatml", e.Message);
        Assert.Throws<ModelFormatException>(() => ChatTemplate.Detect("", "model.gguf"));
    }

    [Fact]
    public void ResolvePrefersTheNamedTemplateOverTheModels()
    {
        var llama3Jinja = ChatTemplateVectors.Cases.First(c => c.Template == "llama3").Jinja;
        Assert.Equal("chatml", ChatTemplate.Resolve("chatml", llama3Jinja, "m.gguf").Name);
        Assert.Equal("llama3", ChatTemplate.Resolve(null, llama3Jinja, "m.gguf").Name);
        Assert.Equal("llama3", ChatTemplate.Resolve("", llama3Jinja, "m.gguf").Name);
        Assert.Equal("zephyr", ChatTemplate.Resolve("zephyr", null, "m.gguf").Name);
        var none = Assert.Throws<ArgumentException>(() => ChatTemplate.Resolve(null, null, "m.gguf"));
        Assert.Contains("m.gguf", none.Message);
        Assert.Contains("--chat-template", none.Message);
        Assert.Throws<ArgumentException>(() => ChatTemplate.Resolve("nope", llama3Jinja, "m.gguf"));
        Assert.Throws<ModelFormatException>(() => ChatTemplate.Resolve(null, "{{ messages }}", "m.gguf"));
    }

    [Fact]
    public void RejectsRolesTheTemplateDoesNotHave()
    {
        var gemma = ChatTemplate.FromName("gemma");
        var e = Assert.Throws<ArgumentException>(() => gemma.Apply([new("user", "hi"), new("tool", "42")], true));
        Assert.Contains("'tool'", e.Message);
        Assert.Contains("gemma", e.Message);
        Assert.Throws<ArgumentException>(() => gemma.Apply([new("User", "hi")], true)); // roles are lower-case
        Assert.Throws<ArgumentException>(() => gemma.Apply([null!], true));
        Assert.Throws<ArgumentException>(() => gemma.Apply([new("user", null!)], true));
        Assert.Throws<ArgumentNullException>(() => gemma.Apply(null!, true));
        // Templates that write the role as given accept "tool"; granite has its tool-calling roles.
        Assert.Equal("<|im_start|>tool\n42<|im_end|>\n", ChatTemplate.FromName("chatml").Apply([new("tool", "42")], false));
        Assert.Contains("assistant_tool_call", ChatTemplate.FromName("granite").Roles);
    }

    [Fact]
    public void EndOfTurnMarkersAreTheTemplatesOwn()
    {
        Assert.Contains("<|eot_id|>", ChatTemplate.FromName("llama3").EndOfTurnMarkers);
        Assert.Contains("<|im_end|>", ChatTemplate.FromName("chatml").EndOfTurnMarkers);
        Assert.Contains("<|end|>", ChatTemplate.FromName("phi3").EndOfTurnMarkers);
        Assert.Contains("</s>", ChatTemplate.FromName("llama2").EndOfTurnMarkers);
        Assert.Contains("</s>", ChatTemplate.FromName("mistral-v7").EndOfTurnMarkers);
        Assert.Contains("<end_of_turn>", ChatTemplate.FromName("gemma").EndOfTurnMarkers);
        Assert.Contains("<|endoftext|>", ChatTemplate.FromName("zephyr").EndOfTurnMarkers);
        // Every marker but the bare "\n\n" turn separators appears in the template's own rendering of a finished
        // assistant turn, so it is text the model was trained to emit there.
        ChatTurn[] chat = [new("system", "s"), new("user", "u"), new("assistant", "a"), new("user", "v")];
        foreach (var name in ChatTemplate.Names)
        {
            var t = ChatTemplate.FromName(name);
            var text = t.Apply(chat, addAssistantPrompt: true);
            foreach (var marker in t.EndOfTurnMarkers.Where(m => m is not ("\n\n" or "<|eom_id|>" or "<|eom|>" or "<|call|>" or "<|endoftext|>" or "<|observation|>")))
                Assert.True(text.Contains(marker, StringComparison.Ordinal), $"{name}: '{marker}' not in {text}");
        }
    }

    /// <summary>The quirks llama.cpp has and Elongate keeps, spelled out (the oracle tests compare them too).</summary>
    [Fact]
    public void KeepsLlamaCppsQuirks()
    {
        // Gemma: system text trimmed, held for the next user turn (not a model turn), then a blank line.
        Assert.Equal("<start_of_turn>model\nhi<end_of_turn>\n<start_of_turn>user\nbe brief\n\nq<end_of_turn>\n<start_of_turn>model\n",
            ChatTemplate.FromName("gemma").Apply([new("system", " be brief\n"), new("assistant", "hi"), new("user", "q")], true));
        // Trimming is C isspace: a no-break space survives.
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\n\u00A0x<|eot_id|>",
            ChatTemplate.FromName("llama3").Apply([new("user", " \t\u00A0x\v\f\r\n")], false));
        // llama2 ignores addAssistantPrompt; rwkv-world prompts the assistant after a final user turn regardless.
        Assert.Equal("[INST] q [/INST]", ChatTemplate.FromName("llama2").Apply([new("user", "q")], false));
        Assert.Equal("User: q\n\nAssistant:", ChatTemplate.FromName("rwkv-world").Apply([new("user", "q")], false));
        // Yandex drops system messages.
        Assert.Equal(" \u041F\u043E\u043B\u044C\u0437\u043E\u0432\u0430\u0442\u0435\u043B\u044C: q\n\n",
            ChatTemplate.FromName("yandex").Apply([new("system", "s"), new("user", "q")], false));
        // An empty conversation is only the generation prompt.
        Assert.Equal("<|im_start|>assistant\n", ChatTemplate.FromName("chatml").Apply([], true));
    }
}
