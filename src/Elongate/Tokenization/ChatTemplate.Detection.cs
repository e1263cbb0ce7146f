namespace Elongate.Tokenization;

public sealed partial class ChatTemplate
{
    /// <summary>
    /// llama.cpp's llm_chat_detect_template: the text itself if it is a template name, else the first of an ordered
    /// list of substring tests on the Jinja source. The order matters (e.g. any "&lt;|im_start|&gt;" means ChatML-like,
    /// whatever else is there; a Zephyr-style template that also has "&lt;|assistant|&gt;" is taken for Falcon 3 or
    /// GLM-Edge), so it is kept exactly, quirks included. Null when nothing matches.
    /// </summary>
    internal static string? DetectName(string jinja)
    {
        if (ByName.ContainsKey(jinja)) return jinja;
        bool Has(string s) => jinja.Contains(s, StringComparison.Ordinal);

        if (Has("<|im_start|>"))
            return Has("<|im_sep|>") ? "phi4"
                : Has("<end_of_utterance>") ? "smolvlm" // SmolVLM writes <|im_start|> as its BOS but is not ChatML
                : "chatml";
        // A bare "mistral…" name is how llama.cpp's older CLI asked for the pre-v1 format, which is Llama 2's.
        if (jinja.StartsWith("mistral", StringComparison.Ordinal) || Has("[INST]"))
        {
            if (Has("[SYSTEM_PROMPT]")) return "mistral-v7";
            // Mistral's official v1 template has "' [INST] ' + system_message"; v3 and v3-tekken have tool blocks.
            if (Has("' [INST] ' + system_message") || Has("[AVAILABLE_TOOLS]"))
                return Has(" [INST]") ? "mistral-v1" : Has("\"[INST]\"") ? "mistral-v3-tekken" : "mistral-v3";
            return Has("content.strip()") ? "llama2-sys-strip"
                : Has("bos_token + '[INST]") ? "llama2-sys-bos"
                : Has("<<SYS>>") ? "llama2-sys"
                : "llama2";
        }
        if (Has("<|assistant|>") && Has("<|end|>")) return "phi3";
        if (Has("[gMASK]<sop>")) return "chatglm4";
        if (Has("<|assistant|>") && Has("<|user|>"))
            return Has("<|tool_declare|>") ? "exaone-moe" : Has("</s>") ? "falcon3" : "glmedge";
        if (Has("<|{{ item['role'] }}|>") && Has("<|begin_of_image|>")) return "glmedge";
        if (Has("<|user|>") && Has("<|endoftext|>")) return "zephyr";
        if (Has("bos_token + message['role']")) return "monarch";
        if (Has("<start_of_turn>")) return "gemma";
        if (Has("'\\n\\nAssistant: ' + eos_token")) return "orion"; // the Jinja source's own backslash-n, not a newline
        if (Has("GPT4 Correct ")) return "openchat";
        if (Has("USER: ") && Has("ASSISTANT: ")) return Has("SYSTEM: ") ? "vicuna-orca" : "vicuna";
        if (Has("### Instruction:") && Has("<|EOT|>")) return "deepseek";
        if (Has("<|START_OF_TURN_TOKEN|>") && Has("<|USER_TOKEN|>")) return "command-r";
        if (Has("<|start_header_id|>") && Has("<|end_header_id|>")) return "llama3";
        if (Has("[gMASK]sop")) return "chatglm3";
        if (Has("<\u7528\u6237>")) return "minicpm"; // <用户>
        if (Has("'Assistant: ' + message['content'] + eos_token")) return "deepseek2";
        if (Has(DeepSeekAssistant) && Has(DeepSeekUser) && Has(DeepSeekEnd))
            return Has("response_format_header") || Has("latest_reminder") || Has("reasoning_effort") ? "deepseek4" : "deepseek3";
        if (Has("[|system|]") && Has("[|assistant|]") && Has("[|endofturn|]")) return Has("[|tool|]") ? "exaone4" : "exaone3";
        if (Has("rwkv-world") || Has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) return "rwkv-world";
        if (Has("<|start_of_role|>"))
            return !(Has("<tool_call>") || Has("<tools>")) ? "granite"
                : Has("g4_default_system_message") ? "granite-4.0"
                : "granite-4.1";
        if (Has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")) return "gigachat";
        if (Has("<|role_start|>")) return "megrez";
        if (Has(YandexAssistant)) return "yandex";
        if (Has("<role>ASSISTANT</role>") && Has("'HUMAN'")) return "bailing";
        if (Has("<role>ASSISTANT</role>") && Has("\"HUMAN\"") && Has("<think>")) return "bailing-think";
        if (Has("<role>ASSISTANT</role>") && Has("<role>HUMAN</role>") && Has("<|role_end|>")) return "bailing2";
        if (Has("<|header_start|>") && Has("<|header_end|>")) return "llama4";
        if (Has("<|endofuserprompt|>")) return "dots1";
        if (Has("<|extra_0|>") && Has("<|extra_4|>")) return "hunyuan-moe";
        if (Has("<|start|>") && Has("<|channel|>")) return "gpt-oss";
        if (Has(HunyuanAssistant) && Has(HunyuanBos)) return "hunyuan-vl";
        if (Has(HunyuanAssistant) && Has(HunyuanPlaceholder3)) return "hunyuan-dense";
        if (Has("<|im_assistant|>assistant<|im_middle|>")) return "kimi-k2";
        if (Has("<seed:bos>")) return "seed_oss";
        if (Has("'Assistant: '  + message['content'] + '<|separator|>")) return "grok-2"; // two spaces, as in Grok 2's template
        if (Has("[unused9]\u7CFB\u7EDF\uFF1A[unused10]")) return "pangu-embedded"; // [unused9]系统：[unused10]
        if (Has("<|begin|>") && Has("<|end|>") && Has("<|content|>")) return "solar-open";
        return null;
    }
}
