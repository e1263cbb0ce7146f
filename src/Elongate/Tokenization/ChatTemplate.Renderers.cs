using System.Text;

namespace Elongate.Tokenization;

// One render function per template, each the rule of the same-named branch of llama.cpp's llm_chat_apply_template
// (src/llama-chat.cpp). Templates that write the role name as given accept "tool" too; the others accept only the roles
// they have a branch for.
public sealed partial class ChatTemplate
{
    private const string System = "system", User = "user", Assistant = "assistant", Tool = "tool";

    // DeepSeek's special tokens use U+FF5C (fullwidth vertical line) and U+2581 (lower one eighth block).
    private const string DeepSeekUser = "<\uFF5CUser\uFF5C>";
    private const string DeepSeekAssistant = "<\uFF5CAssistant\uFF5C>";
    private const string DeepSeekEnd = "<\uFF5Cend\u2581of\u2581sentence\uFF5C>";
    private const string HunyuanUser = "<\uFF5Chy_User\uFF5C>";
    private const string HunyuanAssistant = "<\uFF5Chy_Assistant\uFF5C>";
    private const string HunyuanBos = "<\uFF5Chy_begin\u2581of\u2581sentence\uFF5C>";
    private const string HunyuanPlaceholder2 = "<\uFF5Chy_place\u2581holder\u2581no\u25812\uFF5C>";
    private const string HunyuanPlaceholder3 = "<\uFF5Chy_place\u2581holder\u2581no\u25813\uFF5C>";

    // Called from a field initializer in the other part of this class, whose order against this part's initializers C#
    // leaves open: hence locals, not static fields.
    private static ChatTemplate[] BuildTable()
    {
        string[] std = [System, User, Assistant];
        string[] withTool = [System, User, Assistant, Tool];
        // Granite's tool-calling templates add an assistant_tool_call and a tool_response role.
        string[] granite = [System, User, Assistant, Tool, "assistant_tool_call", "tool_response"];
        return
        [
            new("chatml", RenderChatMl, withTool, ["<|im_end|>"]),
            new("llama2", Llama2(systemTags: false, bosInHistory: false, strip: false), std, ["</s>"]),
            new("llama2-sys", Llama2(systemTags: true, bosInHistory: false, strip: false), std, ["</s>"]),
            new("llama2-sys-bos", Llama2(systemTags: true, bosInHistory: true, strip: false), std, ["</s>"]),
            new("llama2-sys-strip", Llama2(systemTags: true, bosInHistory: false, strip: true), std, ["</s>"]),
            new("mistral-v1", Mistral(leadingSpace: " ", trailingSpace: " ", trimAssistant: false), std, ["</s>"]),
            new("mistral-v3", Mistral(leadingSpace: "", trailingSpace: " ", trimAssistant: true), std, ["</s>"]),
            new("mistral-v3-tekken", Mistral(leadingSpace: "", trailingSpace: "", trimAssistant: false), std, ["</s>"]),
            new("mistral-v7", MistralV7(" "), std, ["</s>"]),
            new("mistral-v7-tekken", MistralV7(""), std, ["</s>"]),
            new("phi3", RenderPhi3, withTool, ["<|end|>", "<|endoftext|>"]),
            new("phi4", RenderPhi4, withTool, ["<|im_end|>"]),
            // Falcon 3 closes a turn with nothing but a newline; the model ends with its EOS, else the next "<|user|>" stops it.
            new("falcon3", RenderFalcon3, withTool, ["<|endoftext|>", "<|user|>"]),
            new("zephyr", RenderZephyr, withTool, ["<|endoftext|>"]),
            new("monarch", RenderMonarch, withTool, ["</s>"]),
            new("gemma", RenderGemma, std, ["<end_of_turn>"]),
            new("orion", RenderOrion, std, ["</s>"]),
            new("openchat", RenderOpenChat, std, ["<|end_of_turn|>"]),
            new("vicuna", Vicuna(orca: false), std, ["</s>"]),
            new("vicuna-orca", Vicuna(orca: true), std, ["</s>"]),
            new("deepseek", RenderDeepSeek, std, ["<|EOT|>"]),
            new("deepseek2", RenderDeepSeek2, std, [DeepSeekEnd]),
            new("deepseek3", RenderDeepSeek3, std, [DeepSeekEnd]),
            new("deepseek-ocr", RenderContentOnly, std, []),
            new("deepseek4", RenderDeepSeek3, std, [DeepSeekEnd]),
            new("command-r", RenderCommandR, std, ["<|END_OF_TURN_TOKEN|>"]),
            // <|eom_id|> ends a Llama 3.1 assistant turn that called a tool.
            new("llama3", RenderLlama3, withTool, ["<|eot_id|>", "<|eom_id|>"]),
            // ChatGLM ends an answer by starting the next turn (its EOS ids are <|user|> and <|observation|>).
            new("chatglm3", ChatGlm(prefix: "[gMASK]sop", separator: "\n ", assistantPrompt: "<|assistant|>"), withTool, ["<|user|>", "<|observation|>"]),
            new("chatglm4", ChatGlm(prefix: "[gMASK]<sop>", separator: "\n", assistantPrompt: "<|assistant|>\n"), withTool, ["<|user|>", "<|observation|>"]),
            new("glmedge", ChatGlm(prefix: "", separator: "\n", assistantPrompt: "<|assistant|>"), withTool, ["<|user|>"]),
            new("minicpm", RenderMiniCpm, std, ["<\u7528\u6237>"]),
            new("exaone3", Exaone(withTool: false), std, ["[|endofturn|]"]),
            new("exaone4", Exaone(withTool: true), withTool, ["[|endofturn|]"]),
            new("exaone-moe", RenderExaoneMoe, withTool, ["<|endofturn|>"]),
            // RWKV World and YandexGPT define "\n\n" as their end-of-turn token (llama.cpp's comments say so too).
            new("rwkv-world", RenderRwkvWorld, std, ["\n\n"]),
            new("granite", RenderGranite3, granite, ["<|end_of_text|>"]),
            new("granite-4.0", RenderGranite4, granite, ["<|end_of_text|>"]),
            new("granite-4.1", RenderGranite4, granite, ["<|end_of_text|>"]),
            new("gigachat", RenderGigaChat, std, ["<|message_sep|>"]),
            new("megrez", RenderMegrez, withTool, ["<|turn_end|>"]),
            new("yandex", RenderYandex, std, ["\n\n"]),
            // Ling's template has no end-of-turn text; the next "<role>" tag is where a run-on answer would continue.
            new("bailing", Bailing(think: false), std, ["<role>"]),
            new("bailing-think", Bailing(think: true), std, ["<role>"]),
            new("bailing2", RenderBailing2, std, ["<|role_end|>"]),
            new("llama4", RenderLlama4, withTool, ["<|eot|>", "<|eom|>"]),
            new("smolvlm", RenderSmolVlm, std, ["<end_of_utterance>"]),
            new("hunyuan-moe", RenderHunyuanMoe, std, ["<|eos|>"]),
            // gpt-oss (Harmony) ends a final answer with <|return|> and a tool call with <|call|>.
            new("gpt-oss", RenderGptOss, withTool, ["<|return|>", "<|call|>"]),
            new("hunyuan-dense", RenderHunyuanDense, std, [HunyuanPlaceholder2]),
            new("hunyuan-vl", RenderHunyuanVl, std, []),
            new("kimi-k2", RenderKimiK2, withTool, ["<|im_end|>"]),
            new("seed_oss", RenderSeedOss, withTool, ["<seed:eos>"]),
            new("grok-2", RenderGrok2, std, ["<|separator|>"]),
            new("pangu-embedded", RenderPanguEmbedded, [System, User, Assistant, Tool, "function"], ["[unused10]"]),
            new("solar-open", RenderSolarOpen, withTool, ["<|end|>"]),
            // Not a llama.cpp name: llama.cpp selects this template only by detecting "<|endofuserprompt|>".
            new("dots1", RenderDots1, std, ["<|endofresponse|>"]),
        ];
    }

    private static void RenderChatMl(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|im_start|>").Append(t.Role).Append('\n').Append(t.Content).Append("<|im_end|>\n");
        if (add) sb.Append("<|im_start|>assistant\n");
    }

    /// <summary>
    /// Llama 2 chat and its variants: [INST] opens every user turn after the first (with "&lt;s&gt;" before it in
    /// the -bos variant: a template that writes bos_token inside the history); a system message goes inside the first
    /// [INST], in &lt;&lt;SYS&gt;&gt; tags where the template has them, else as a plain line. The opening "[INST] " is
    /// written even before an assistant message, as llama.cpp does.
    /// </summary>
    private static Renderer Llama2(bool systemTags, bool bosInHistory, bool strip) => (sb, m, _) =>
    {
        bool insideTurn = true; // the first [INST] follows the BOS the tokenizer adds
        sb.Append("[INST] ");
        foreach (var t in m)
        {
            var content = strip ? Trim(t.Content) : t.Content;
            if (!insideTurn)
            {
                insideTurn = true;
                sb.Append(bosInHistory ? "<s>[INST] " : "[INST] ");
            }
            if (t.Role == System)
                sb.Append(systemTags ? $"<<SYS>>\n{content}\n<</SYS>>\n\n" : content + "\n");
            else if (t.Role == User)
                sb.Append(content).Append(" [/INST]");
            else
            {
                sb.Append(content).Append("</s>");
                insideTurn = false;
            }
        }
    };

    /// <summary>
    /// Mistral's v1/v3/v3-tekken formats (mistralai cookbook, chat_templates.md): the system text opens the first
    /// [INST] followed by a blank line; v1 puts a space before [INST] and [/INST], v3 a space after [INST] and before
    /// the answer, tekken neither; v3 trims the assistant's text.
    /// </summary>
    private static Renderer Mistral(string leadingSpace, string trailingSpace, bool trimAssistant) => (sb, m, _) =>
    {
        bool insideTurn = false;
        foreach (var t in m)
        {
            if (!insideTurn)
            {
                sb.Append(leadingSpace).Append("[INST]").Append(trailingSpace);
                insideTurn = true;
            }
            if (t.Role == System) sb.Append(t.Content).Append("\n\n");
            else if (t.Role == User) sb.Append(t.Content).Append(leadingSpace).Append("[/INST]");
            else
            {
                sb.Append(trailingSpace).Append(trimAssistant ? Trim(t.Content) : t.Content).Append("</s>");
                insideTurn = false;
            }
        }
    };

    /// <summary>Mistral v7: a real [SYSTEM_PROMPT] block; v7 puts a space after each opening tag, v7-tekken does not.</summary>
    private static Renderer MistralV7(string space) => (sb, m, _) =>
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append("[SYSTEM_PROMPT]").Append(space).Append(t.Content).Append("[/SYSTEM_PROMPT]");
            else if (t.Role == User) sb.Append("[INST]").Append(space).Append(t.Content).Append("[/INST]");
            else sb.Append(space).Append(t.Content).Append("</s>");
        }
    };

    private static void RenderPhi3(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|").Append(t.Role).Append("|>\n").Append(t.Content).Append("<|end|>\n");
        if (add) sb.Append("<|assistant|>\n");
    }

    private static void RenderPhi4(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|im_start|>").Append(t.Role).Append("<|im_sep|>").Append(t.Content).Append("<|im_end|>");
        if (add) sb.Append("<|im_start|>assistant<|im_sep|>");
    }

    private static void RenderFalcon3(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|").Append(t.Role).Append("|>\n").Append(t.Content).Append('\n');
        if (add) sb.Append("<|assistant|>\n");
    }

    private static void RenderZephyr(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|").Append(t.Role).Append("|>\n").Append(t.Content).Append("<|endoftext|>\n");
        if (add) sb.Append("<|assistant|>\n");
    }

    /// <summary>AlphaMonarch writes bos_token before every message; the first one's is the tokenizer's BOS.</summary>
    private static void RenderMonarch(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        for (int i = 0; i < m.Count; i++)
            sb.Append(i == 0 ? "" : "<s>").Append(m[i].Role).Append('\n').Append(m[i].Content).Append("</s>\n");
        if (add) sb.Append("<s>assistant\n");
    }

    /// <summary>
    /// Gemma has no system role (its own template raises an error): system text, trimmed, waits for the next user
    /// turn and opens it, followed by a blank line. Every message is trimmed; "assistant" is "model".
    /// </summary>
    private static void RenderGemma(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        var system = "";
        foreach (var t in m)
        {
            if (t.Role == System)
            {
                system += Trim(t.Content);
                continue;
            }
            var role = t.Role == Assistant ? "model" : t.Role;
            sb.Append("<start_of_turn>").Append(role).Append('\n');
            if (system.Length > 0 && role != "model")
            {
                sb.Append(system).Append("\n\n");
                system = "";
            }
            sb.Append(Trim(t.Content)).Append("<end_of_turn>\n");
        }
        if (add) sb.Append("<start_of_turn>model\n");
    }

    /// <summary>Orion: no system role (folded into the next user turn); the user turn already opens the answer.</summary>
    private static void RenderOrion(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        var system = "";
        foreach (var t in m)
        {
            if (t.Role == System)
            {
                system += t.Content;
                continue;
            }
            if (t.Role == User)
            {
                sb.Append("Human: ");
                if (system.Length > 0)
                {
                    sb.Append(system).Append("\n\n");
                    system = "";
                }
                sb.Append(t.Content).Append("\n\nAssistant: </s>");
            }
            else sb.Append(t.Content).Append("</s>");
        }
    }

    /// <summary>
    /// OpenChat 3.5 as its authors describe it (a bare system line), not as its shipped Jinja renders it
    /// ("GPT4 Correct System: …"); llama.cpp made the same choice.
    /// </summary>
    private static void RenderOpenChat(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(t.Content).Append("<|end_of_turn|>");
            else sb.Append("GPT4 Correct ").Append(char.ToUpperInvariant(t.Role[0])).Append(t.Role, 1, t.Role.Length - 1)
                .Append(": ").Append(t.Content).Append("<|end_of_turn|>");
        }
        if (add) sb.Append("GPT4 Correct Assistant:");
    }

    private static Renderer Vicuna(bool orca) => (sb, m, add) =>
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(orca ? $"SYSTEM: {t.Content}\n" : t.Content + "\n\n");
            else if (t.Role == User) sb.Append("USER: ").Append(t.Content).Append('\n');
            else sb.Append("ASSISTANT: ").Append(t.Content).Append("</s>\n");
        }
        if (add) sb.Append("ASSISTANT:");
    };

    private static void RenderDeepSeek(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(t.Content);
            else if (t.Role == User) sb.Append("### Instruction:\n").Append(t.Content).Append('\n');
            else sb.Append("### Response:\n").Append(t.Content).Append("\n<|EOT|>\n");
        }
        if (add) sb.Append("### Response:\n");
    }

    private static void RenderDeepSeek2(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(t.Content).Append("\n\n");
            else if (t.Role == User) sb.Append("User: ").Append(t.Content).Append("\n\n");
            else sb.Append("Assistant: ").Append(t.Content).Append(DeepSeekEnd);
        }
        if (add) sb.Append("Assistant:");
    }

    /// <summary>DeepSeek V3 (and R1, and V4's plain chat, which llama.cpp renders the same way).</summary>
    private static void RenderDeepSeek3(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(t.Content).Append("\n\n");
            else if (t.Role == User) sb.Append(DeepSeekUser).Append(t.Content);
            else sb.Append(DeepSeekAssistant).Append(t.Content).Append(DeepSeekEnd);
        }
        if (add) sb.Append(DeepSeekAssistant);
    }

    /// <summary>DeepSeek-OCR has no chat format: the messages' text, back to back.</summary>
    private static void RenderContentOnly(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        foreach (var t in m) sb.Append(t.Content);
    }

    private static void RenderCommandR(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            var token = t.Role == System ? "<|SYSTEM_TOKEN|>" : t.Role == User ? "<|USER_TOKEN|>" : "<|CHATBOT_TOKEN|>";
            sb.Append("<|START_OF_TURN_TOKEN|>").Append(token).Append(Trim(t.Content)).Append("<|END_OF_TURN_TOKEN|>");
        }
        if (add) sb.Append("<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
    }

    /// <summary>Llama 3: content trimmed, as Meta's Jinja does with "| trim".</summary>
    private static void RenderLlama3(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
            sb.Append("<|start_header_id|>").Append(t.Role).Append("<|end_header_id|>\n\n").Append(Trim(t.Content)).Append("<|eot_id|>");
        if (add) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    private static Renderer ChatGlm(string prefix, string separator, string assistantPrompt) => (sb, m, add) =>
    {
        sb.Append(prefix);
        foreach (var t in m) sb.Append("<|").Append(t.Role).Append("|>").Append(separator).Append(t.Content);
        if (add) sb.Append(assistantPrompt);
    };

    /// <summary>MiniCPM: only the user turn is marked ("&lt;用户&gt;" … "&lt;AI&gt;"); everything is trimmed.</summary>
    private static void RenderMiniCpm(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        foreach (var t in m)
        {
            if (t.Role == User) sb.Append("<\u7528\u6237>").Append(Trim(t.Content)).Append("<AI>");
            else sb.Append(Trim(t.Content));
        }
    }

    /// <summary>EXAONE 3 and 4: a user turn ends with a newline only; EXAONE 4 adds a tool role.</summary>
    private static Renderer Exaone(bool withTool) => (sb, m, add) =>
    {
        foreach (var t in m)
        {
            var c = Trim(t.Content);
            if (t.Role == System) sb.Append("[|system|]").Append(c).Append("[|endofturn|]\n");
            else if (t.Role == User) sb.Append("[|user|]").Append(c).Append('\n');
            else if (t.Role == Assistant) sb.Append("[|assistant|]").Append(c).Append("[|endofturn|]\n");
            else if (withTool) sb.Append("[|tool|]").Append(c).Append("[|endofturn|]\n");
        }
        if (add) sb.Append("[|assistant|]");
    };

    private static void RenderExaoneMoe(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|").Append(t.Role).Append("|>\n").Append(Trim(t.Content)).Append("<|endofturn|>\n");
        if (add) sb.Append("<|assistant|>\n");
    }

    /// <summary>RWKV World: "Assistant:" follows a final user turn whatever addAssistantPrompt says (llama.cpp's rule).</summary>
    private static void RenderRwkvWorld(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        for (int i = 0; i < m.Count; i++)
        {
            var c = Trim(m[i].Content);
            if (m[i].Role == System) sb.Append("System: ").Append(c).Append("\n\n");
            else if (m[i].Role == User)
            {
                sb.Append("User: ").Append(c).Append("\n\n");
                if (i == m.Count - 1) sb.Append("Assistant:");
            }
            else sb.Append("Assistant: ").Append(c).Append("\n\n");
        }
    }

    /// <summary>Granite 3.x: roles as given; an assistant_tool_call turn gets "&lt;|tool_call|&gt;" before its text.</summary>
    private static void RenderGranite3(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            sb.Append("<|start_of_role|>").Append(t.Role).Append("<|end_of_role|>");
            if (t.Role == "assistant_tool_call") sb.Append("<|tool_call|>");
            sb.Append(t.Content).Append("<|end_of_text|>\n");
        }
        if (add) sb.Append("<|start_of_role|>assistant<|end_of_role|>");
    }

    /// <summary>Granite 4.x: an assistant_tool_call turn is written as an assistant turn starting "&lt;|tool_call|&gt;".</summary>
    private static void RenderGranite4(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == "assistant_tool_call") sb.Append("<|start_of_role|>assistant<|end_of_role|><|tool_call|>");
            else sb.Append("<|start_of_role|>").Append(t.Role).Append("<|end_of_role|>");
            sb.Append(t.Content).Append("<|end_of_text|>\n");
        }
        if (add) sb.Append("<|start_of_role|>assistant<|end_of_role|>");
    }

    /// <summary>
    /// GigaChat: "&lt;s&gt;" and a leading system message open the prompt (a later system message is dropped); each user
    /// turn is followed by an empty "available functions" block, as its template writes with no tools.
    /// </summary>
    private static void RenderGigaChat(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        bool hasSystem = m.Count > 0 && m[0].Role == System;
        sb.Append("<s>");
        if (hasSystem) sb.Append(m[0].Content).Append("<|message_sep|>");
        for (int i = hasSystem ? 1 : 0; i < m.Count; i++)
        {
            if (m[i].Role == User)
                sb.Append("user<|role_sep|>").Append(m[i].Content).Append("<|message_sep|>available functions<|role_sep|>[]<|message_sep|>");
            else if (m[i].Role == Assistant)
                sb.Append("assistant<|role_sep|>").Append(m[i].Content).Append("<|message_sep|>");
        }
        if (add) sb.Append("assistant<|role_sep|>");
    }

    private static void RenderMegrez(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|role_start|>").Append(t.Role).Append("<|role_end|>").Append(t.Content).Append("<|turn_end|>");
        if (add) sb.Append("<|role_start|>assistant<|role_end|>");
    }

    /// <summary>YandexGPT 5: no system role, and llama.cpp drops system messages rather than folding them in.</summary>
    private static void RenderYandex(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == User) sb.Append(" \u041F\u043E\u043B\u044C\u0437\u043E\u0432\u0430\u0442\u0435\u043B\u044C: ").Append(t.Content).Append("\n\n");
            else if (t.Role == Assistant) sb.Append(YandexAssistant).Append(' ').Append(t.Content).Append("\n\n");
        }
        if (add) sb.Append(YandexAssistant).Append("[SEP]");
    }

    /// <summary>" Ассистент:" (with its leading space), YandexGPT's assistant label.</summary>
    private const string YandexAssistant = " \u0410\u0441\u0441\u0438\u0441\u0442\u0435\u043D\u0442:";

    /// <summary>Ling (bailing): "&lt;role&gt;HUMAN&lt;/role&gt;" for the user, other roles upper-cased; -think opens "&lt;think&gt;".</summary>
    private static Renderer Bailing(bool think) => (sb, m, add) =>
    {
        foreach (var t in m) sb.Append("<role>").Append(BailingRole(t.Role)).Append("</role>").Append(t.Content);
        if (add) sb.Append(think ? "<role>ASSISTANT</role><think>" : "<role>ASSISTANT</role>");
    };

    private static string BailingRole(string role) => role == User ? "HUMAN" : role.ToUpperInvariant();

    /// <summary>Ling 2.0: turns end with "&lt;|role_end|&gt;"; without a leading system message, "detailed thinking off" is one.</summary>
    private static void RenderBailing2(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        if (!(m.Count > 0 && m[0].Role == System)) sb.Append("<role>SYSTEM</role>detailed thinking off<|role_end|>");
        foreach (var t in m) sb.Append("<role>").Append(BailingRole(t.Role)).Append("</role>").Append(t.Content).Append("<|role_end|>");
        if (add) sb.Append("<role>ASSISTANT</role>");
    }

    private static void RenderLlama4(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
            sb.Append("<|header_start|>").Append(t.Role).Append("<|header_end|>\n\n").Append(Trim(t.Content)).Append("<|eot|>");
        if (add) sb.Append("<|header_start|>assistant<|header_end|>\n\n");
    }

    /// <summary>SmolVLM uses "&lt;|im_start|&gt;" as its BOS text, once, but is not ChatML.</summary>
    private static void RenderSmolVlm(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        sb.Append("<|im_start|>");
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append(t.Content).Append("\n\n");
            else if (t.Role == User) sb.Append("User: ").Append(t.Content).Append("<end_of_utterance>\n");
            else sb.Append("Assistant: ").Append(t.Content).Append("<end_of_utterance>\n");
        }
        if (add) sb.Append("Assistant:");
    }

    private static void RenderDots1(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append("<|system|>").Append(t.Content).Append("<|endofsystem|>");
            else if (t.Role == User) sb.Append("<|userprompt|>").Append(t.Content).Append("<|endofuserprompt|>");
            else sb.Append("<|response|>").Append(t.Content).Append("<|endofresponse|>");
        }
        if (add) sb.Append("<|response|>");
    }

    private static void RenderHunyuanMoe(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append("<|startoftext|>").Append(t.Content).Append("<|extra_4|>");
            else if (t.Role == Assistant) sb.Append(t.Content).Append("<|eos|>");
            else sb.Append("<|startoftext|>").Append(t.Content).Append("<|extra_0|>");
        }
    }

    private static void RenderGptOss(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
            sb.Append("<|start|>").Append(t.Role).Append("<|message|>").Append(t.Content).Append(t.Role == Assistant ? "<|return|>" : "<|end|>");
        if (add) sb.Append("<|start|>assistant");
    }

    /// <summary>
    /// Hunyuan dense: a user turn already ends by opening the assistant's, and llama.cpp opens it again before each
    /// assistant message; only a system message in first place is kept.
    /// </summary>
    private static void RenderHunyuanDense(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        for (int i = 0; i < m.Count; i++)
        {
            if (i == 0 && m[i].Role == System) sb.Append(m[i].Content).Append(HunyuanPlaceholder3);
            if (m[i].Role == Assistant) sb.Append(HunyuanAssistant).Append(m[i].Content).Append(HunyuanPlaceholder2);
            else if (m[i].Role == User) sb.Append(HunyuanUser).Append(m[i].Content).Append(HunyuanAssistant);
        }
    }

    /// <summary>HunyuanOCR/VL, as llama.cpp writes it: each message's text is followed by its role marker.</summary>
    private static void RenderHunyuanVl(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool _)
    {
        sb.Append(HunyuanBos);
        for (int i = 0; i < m.Count; i++)
        {
            if (i == 0 && m[i].Role == System)
            {
                sb.Append(m[i].Content).Append(HunyuanPlaceholder3);
                continue;
            }
            if (m[i].Role == User) sb.Append(m[i].Content).Append(HunyuanUser);
            else if (m[i].Role == Assistant) sb.Append(m[i].Content).Append(HunyuanAssistant);
        }
    }

    private static void RenderKimiK2(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            sb.Append(t.Role switch
            {
                System => "<|im_system|>system<|im_middle|>",
                User => "<|im_user|>user<|im_middle|>",
                Assistant => "<|im_assistant|>assistant<|im_middle|>",
                _ => "<|im_system|>tool<|im_middle|>",
            });
            sb.Append(t.Content).Append("<|im_end|>");
        }
        if (add) sb.Append("<|im_assistant|>assistant<|im_middle|>");
    }

    /// <summary>Seed-OSS: assistant text trimmed (its Jinja does "| trim"), other roles as given.</summary>
    private static void RenderSeedOss(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
            sb.Append("<seed:bos>").Append(t.Role).Append('\n').Append(t.Role == Assistant ? Trim(t.Content) : t.Content).Append("<seed:eos>");
        if (add) sb.Append("<seed:bos>assistant\n");
    }

    private static void RenderGrok2(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m)
        {
            if (t.Role == System) sb.Append("System: ").Append(Trim(t.Content)).Append("<|separator|>\n\n");
            else if (t.Role == User) sb.Append("Human: ").Append(Trim(t.Content)).Append("<|separator|>\n\n");
            else sb.Append("Assistant: ").Append(t.Content).Append("<|separator|>\n\n");
        }
        if (add) sb.Append("Assistant:");
    }

    /// <summary>openPangu-Embedded: "[unused9]角色：…[unused10]"; an empty system turn opens a prompt that has none.</summary>
    private static void RenderPanguEmbedded(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        for (int i = 0; i < m.Count; i++)
        {
            var role = m[i].Role;
            if (i == 0 && role != System) sb.Append("[unused9]\u7CFB\u7EDF\uFF1A[unused10]");
            var label = role switch
            {
                System => "\u7CFB\u7EDF",      // 系统
                User => "\u7528\u6237",        // 用户
                Assistant => "\u52A9\u624B",   // 助手
                Tool => "\u5DE5\u5177",        // 工具
                _ => "\u65B9\u6CD5",           // 方法 (function)
            };
            sb.Append("[unused9]").Append(label).Append('\uFF1A').Append(m[i].Content).Append("[unused10]");
        }
        if (add) sb.Append("[unused9]\u52A9\u624B\uFF1A");
    }

    private static void RenderSolarOpen(StringBuilder sb, IReadOnlyList<ChatTurn> m, bool add)
    {
        foreach (var t in m) sb.Append("<|begin|>").Append(t.Role).Append("<|content|>").Append(t.Content).Append("<|end|>");
        if (add) sb.Append("<|begin|>assistant");
    }
}
