using Elongate.Common;
using Elongate.Kernels;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// <see cref="ITaskModel"/> over a model loaded in this process. Prompts are encoded as `elongate serve` encodes them
/// (<see cref="PromptEncoding"/>) and processed in the same order, so greedy generation here and through the server
/// give the same text; scores follow lm-evaluation-harness's loglikelihood (<see cref="ScoringWindow"/>).
/// </summary>
/// <remarks>One inference session is reused by every call; calls are serialised, so the model is safe to share across tasks.</remarks>
public sealed class LocalTaskModel : ITaskModel
{
    private readonly LlamaModel _model;
    private readonly ITokenizer _tokenizer;
    private readonly InferenceSession _session;
    private readonly ChatTemplate? _template;
    private readonly int[] _stopIds;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _ownsModel;
    private bool _disposed;

    /// <param name="model">The model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="contextLength">Positions to allocate; 0 = the model's trained context.</param>
    /// <param name="template">Chat template for <see cref="TaskGenerationRequest.Chat"/>; null = the vocabulary's own, if recognised.</param>
    /// <param name="name">Name for reports; null = the model file's name.</param>
    /// <param name="ownsModel">Dispose the model with this object.</param>
    /// <exception cref="ContextMemoryException">The KV cache for the context does not fit in memory.</exception>
    public LocalTaskModel(LlamaModel model, ITokenizer tokenizer, int contextLength = 0, ChatTemplate? template = null, string? name = null, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfNegative(contextLength);
        if (tokenizer.Vocabulary.Count > model.Config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.Vocabulary.Count} tokens, more than the model's {model.Config.VocabSize}: they do not belong together");
        _model = model;
        _tokenizer = tokenizer;
        _ownsModel = ownsModel;
        // The same session shape (context, default batch size) as a server slot: equal batching gives equal logits.
        _session = new InferenceSession(model, contextLength);
        _template = template ?? TryDetect(tokenizer.Vocabulary.ChatTemplate, model.Source);
        _stopIds = tokenizer.Vocabulary.EndOfGenerationIds();
        Name = name ?? Path.GetFileNameWithoutExtension(model.Source);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int ContextLength => _session.ContextLength;

    /// <summary>The chat template used for chat requests, or null when the model has none (chat requests then fail).</summary>
    public ChatTemplate? Template => _template;

    /// <inheritdoc/>
    /// <remarks>
    /// Control-token text is ordinary text here: a document that mentions "&lt;/s&gt;" is not ended by it. Generation
    /// prompts are encoded as the server encodes them, with such text parsed, so only a prompt that contains it counts
    /// differently there.
    /// </remarks>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenizer.Encode(text, addBos: false, addEos: false, parseSpecial: false);
    }

    /// <inheritdoc/>
    public string Detokenize(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return _tokenizer.Decode(tokens as int[] ?? [.. tokens]);
    }

    /// <summary>The prompt's tokens exactly as the server would build them (BOS, chat markup) for <paramref name="request"/>.</summary>
    /// <exception cref="InvalidOperationException">A chat request and no chat template.</exception>
    public int[] PromptTokens(TaskGenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.Chat) return PromptEncoding.Encode(_tokenizer, request.Prompt);
        var template = _template ?? throw new InvalidOperationException(
            $"{Name} has no chat template Elongate recognises: pass one to {nameof(LocalTaskModel)} or send raw prompts");
        return PromptEncoding.EncodeChat(_tokenizer, template, [new ChatTurn("user", request.Prompt)]);
    }

    /// <inheritdoc/>
    /// <exception cref="ContextOverflowException">The prompt plus <see cref="TaskGenerationRequest.MaxNewTokens"/> exceed the context.</exception>
    public async Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // At least one token, as an OpenAI server requires, so a request means the same here and remotely.
        ArgumentOutOfRangeException.ThrowIfLessThan(request.MaxNewTokens, 1);
        var prompt = PromptTokens(request);
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty and the vocabulary adds no BOS to start from");
        if (prompt.Length + request.MaxNewTokens > ContextLength) throw new ContextOverflowException(prompt.Length, request.MaxNewTokens, ContextLength);
        // The server ends chat replies at the template's end-of-turn text as well as at the caller's stops.
        IReadOnlyList<string> stops = request.Chat ? [.. request.Stop, .. _template!.EndOfTurnMarkers] : request.Stop;
        return await Exclusive(() =>
        {
            // As a server slot does: all but the last prompt token as a prefill, then the generator from the last one.
            // Logits can differ in the last bits with how rows are batched, so the same split keeps near-ties equal.
            _session.Reset();
            for (int at = 0; at < prompt.Length - 1;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Math.Min(_session.BatchSize, prompt.Length - 1 - at);
                _session.Forward(prompt.AsSpan(at, n));
                at += n;
            }
            var run = TextGenerator.GenerateText(_session, [prompt[^1]], request.MaxNewTokens, new Sampler(SamplingOptions.Greedy),
                _tokenizer, stops, _stopIds, onText: null, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return new TaskGeneration(run.Text, prompt.Length, run.Tokens.Count);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The context's tokens go through the model once; each continuation then truncates the cache back to them and
    /// adds its own tokens, so k options over a long document cost one document pass. A continuation that makes the
    /// input longer than the context is left-truncated and computed on its own.
    /// </remarks>
    public async Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuations);
        var windows = new ScoringWindow[continuations.Count];
        // The split tokenizes the (long) context once per continuation; it is the same text each time.
        var encoded = new Dictionary<string, int[]>(StringComparer.Ordinal);
        int[] Encode(string text) => encoded.TryGetValue(text, out var ids) ? ids : encoded[text] = Tokenize(text);
        for (int i = 0; i < windows.Length; i++)
        {
            var (ctx, cont) = ScoringWindow.Split(Encode, context, continuations[i]);
            windows[i] = ScoringWindow.Build(Bos, ctx, cont, ContextLength);
        }
        return await Exclusive(() =>
        {
            var scores = new ContinuationScore[windows.Length];
            int[]? shared = null;  // tokens whose KV the cache holds, and the logits after the last of them
            float[]? sharedLogits = null;
            _session.Reset();
            for (int i = 0; i < windows.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var w = windows[i];
                var before = w.Tokens.AsSpan(0, w.ContextTokens);
                if (shared is null || !before.SequenceEqual(shared))
                {
                    // A new (or left-truncated) context: compute it, keeping the logits that predict the first continuation token.
                    _session.Reset();
                    sharedLogits = ForwardChunks(before, cancellationToken);
                    shared = before.ToArray();
                }
                else _session.Truncate(shared.Length);
                var cont = w.Tokens.AsSpan(w.ContextTokens);
                double sum = 0;
                bool greedy = true;
                Accumulate(sharedLogits!, cont[0], ref sum, ref greedy);
                // Continuation tokens but the last are inputs; the logits after each predict the next.
                for (int at = 0; at < cont.Length - 1;)
                {
                    int n = Math.Min(_session.BatchSize, cont.Length - 1 - at);
                    var rows = _session.ForwardAll(cont.Slice(at, n));
                    for (int t = 0; t < n; t++) Accumulate(rows[t], cont[at + t + 1], ref sum, ref greedy);
                    at += n;
                }
                scores[i] = new ContinuationScore(sum, cont.Length, greedy);
            }
            return (IReadOnlyList<ContinuationScore>)scores;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>BOS id to prepend, or −1 when the vocabulary adds none.</summary>
    private int Bos => _tokenizer.Vocabulary is { AddBos: true, BosId: >= 0 } v ? v.BosId : -1;

    /// <summary>
    /// Greedy means no token is strictly more probable than the one scored (a tie counts as greedy, as a comparison of
    /// log-probabilities over an API does).
    /// </summary>
    private static void Accumulate(float[] logits, int token, ref double sum, ref bool greedy)
    {
        sum += LogSoftmax.LogProb(logits, token);
        float mine = logits[token];
        foreach (var l in logits)
            if (l > mine) { greedy = false; break; }
    }

    /// <summary>Feeds tokens in batches, checking for cancellation between them; returns the logits after the last one.</summary>
    private float[] ForwardChunks(ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        float[] last = [];
        for (int at = 0; at < tokens.Length;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(_session.BatchSize, tokens.Length - at);
            last = _session.Forward(tokens.Slice(at, n));
            at += n;
        }
        return last;
    }

    private async Task<T> Exclusive<T>(Func<T> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The forward pass is CPU-bound: off the caller's thread, so an async caller (a harness with progress
            // output, a server) stays responsive.
            return await Task.Run(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static ChatTemplate? TryDetect(string? jinja, string source)
    {
        if (jinja is null) return null;
        try
        {
            return ChatTemplate.Detect(jinja, source);
        }
        catch (ModelFormatException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_ownsModel) _model.Dispose();
        _gate.Dispose();
    }
}
