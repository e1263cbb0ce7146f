using Elongate.Tokenization;

namespace Elongate.Model;

/// <summary>How a generation ended.</summary>
public enum StopReason
{
    /// <summary>The model ended its turn (an end-of-generation token or an end-of-turn marker).</summary>
    Stop,
    /// <summary>The token budget for the reply ran out.</summary>
    Length,
    /// <summary>The context window is full.</summary>
    Context,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

/// <summary>One assistant reply: its text, why it ended, and the token counts and timings.</summary>
public sealed record ChatReply(string Text, StopReason FinishReason, GenerationStats Stats, int PromptTokens, int ReusedTokens);

/// <summary>
/// A multi-turn conversation with a model: each turn renders the whole conversation with the model's chat template,
/// reuses the part of the KV cache that still matches it (so only the new turn is computed), and generates until an
/// end-of-generation token, an end-of-turn marker in the text, the token budget or the context is reached. When the
/// conversation no longer fits in the context, the oldest turns after the system message are dropped.
/// </summary>
public sealed class ChatSession
{
    private readonly InferenceSession _session;
    private readonly ITokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly List<ChatTurn> _messages = [];
    private readonly List<int> _fed = [];
    private readonly int[] _stopIds;

    /// <param name="session">The inference session; the chat owns its cache from now on.</param>
    /// <param name="tokenizer">The model's tokenizer (special tokens in the rendered template are parsed).</param>
    /// <param name="template">How messages become the prompt.</param>
    /// <param name="systemPrompt">An optional system message that starts every rendering and is never dropped.</param>
    public ChatSession(InferenceSession session, ITokenizer tokenizer, ChatTemplate template, string? systemPrompt = null)
    {
        _session = session;
        _tokenizer = tokenizer;
        _template = template;
        _stopIds = tokenizer.Vocabulary.EndOfGenerationIds();
        SystemPrompt = systemPrompt;
        Reset();
    }

    /// <summary>The system message, if any.</summary>
    public string? SystemPrompt { get; }

    /// <summary>The conversation so far (system message first when given).</summary>
    public IReadOnlyList<ChatTurn> Messages => _messages;

    /// <summary>The chat template in use.</summary>
    public ChatTemplate Template => _template;

    /// <summary>Forgets the conversation (keeping the system message) and the cache.</summary>
    public void Reset()
    {
        _messages.Clear();
        if (SystemPrompt is not null) _messages.Add(new ChatTurn("system", SystemPrompt));
        _fed.Clear();
        _session.Reset();
    }

    /// <summary>
    /// Adds <paramref name="userMessage"/>, generates the assistant's reply and adds it to the conversation.
    /// <paramref name="onText"/> receives the reply as it is generated, never any part of an end-of-turn marker.
    /// </summary>
    /// <exception cref="ArgumentException">The new message alone does not fit in the context.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the prompt was processed.</exception>
    public ChatReply Respond(string userMessage, int maxNewTokens, Sampler sampler, Action<string>? onText = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        _messages.Add(new ChatTurn("user", userMessage));
        int[] tokens;
        try
        {
            tokens = FitToContext();
        }
        catch
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw;
        }

        // Reuse the cache up to the first token that differs from what it holds; at least one token must be fed.
        int reuse = 0;
        while (reuse < _fed.Count && reuse < tokens.Length && _fed[reuse] == tokens[reuse]) reuse++;
        if (reuse == tokens.Length) reuse--;
        _session.Truncate(reuse);
        _fed.RemoveRange(reuse, _fed.Count - reuse);
        var prompt = tokens[reuse..];

        var run = TextGenerator.GenerateText(_session, prompt, maxNewTokens, sampler, _tokenizer, _template.EndOfTurnMarkers, _stopIds, onText, cancel);
        _fed.AddRange(prompt);
        _fed.AddRange(run.Tokens);
        _fed.RemoveRange(_session.Position, _fed.Count - _session.Position);
        var reply = run.Text;
        _messages.Add(new ChatTurn("assistant", reply));
        return new ChatReply(reply, run.Reason, run.Stats, tokens.Length, reuse);
    }

    /// <summary>The rendered conversation's tokens, after dropping the oldest turns until it leaves room to answer.</summary>
    private int[] FitToContext()
    {
        while (true)
        {
            var tokens = Tokenize(_template.Apply(_messages, addAssistantPrompt: true));
            // Leave at least a quarter of the context (or 64 tokens, whichever is less) for the reply.
            int room = Math.Min(64, _session.ContextLength / 4);
            if (tokens.Length + room <= _session.ContextLength) return tokens;
            int first = SystemPrompt is null ? 0 : 1;
            if (_messages.Count - first <= 1)
                throw new ArgumentException($"the message is {tokens.Length} tokens, too long for a {_session.ContextLength}-token context with room to answer");
            // Drop the oldest user turn and the assistant reply that followed it.
            _messages.RemoveAt(first);
            if (_messages.Count - first > 1 && _messages[first].Role == "assistant") _messages.RemoveAt(first);
        }
    }

    private int[] Tokenize(string rendered)
    {
        var v = _tokenizer.Vocabulary;
        // Templates that write the BOS text themselves ("<s>", "<|begin_of_text|>") get it as a token by special
        // parsing; otherwise BOS is added when the vocabulary asks for it.
        bool writesBos = v.BosId >= 0 && rendered.StartsWith(v.Pieces[v.BosId], StringComparison.Ordinal);
        return _tokenizer.Encode(rendered, addBos: v.AddBos && v.BosId >= 0 && !writesBos, addEos: false, parseSpecial: true);
    }
}
