namespace Elongate.Tokenization;

/// <summary>
/// How a prompt becomes tokens for generation, in one place for every caller that must agree on it: the server's
/// /v1/completions and /v1/chat/completions, and the task harness's local model. Two callers that encode through here
/// give the model identical prompts, so greedy generation gives identical text.
/// </summary>
public static class PromptEncoding
{
    /// <summary>
    /// Plain text as a prompt: BOS when the vocabulary asks for one (unless the text already starts with the BOS text
    /// and control tokens are parsed, which makes it the BOS token), control-token text parsed when
    /// <paramref name="parseSpecial"/> (as llama-server does for prompts).
    /// </summary>
    public static int[] Encode(ITokenizer tokenizer, string text, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        var v = tokenizer.Vocabulary;
        bool writesBos = v.BosId >= 0 && parseSpecial && text.StartsWith(v.Pieces[v.BosId], StringComparison.Ordinal);
        return tokenizer.Encode(text, addBos: v.BosId >= 0 && v.AddBos && !writesBos, addEos: false, parseSpecial: parseSpecial);
    }

    /// <summary>Messages rendered with <paramref name="template"/>, ending with the assistant's cue, and tokenized as a prompt.</summary>
    /// <exception cref="ArgumentException">A role the template does not support.</exception>
    public static int[] EncodeChat(ITokenizer tokenizer, ChatTemplate template, IReadOnlyList<ChatTurn> messages)
    {
        ArgumentNullException.ThrowIfNull(template);
        return Encode(tokenizer, template.Apply(messages, addAssistantPrompt: true));
    }
}
