using Elongate.Common;
using System.Diagnostics;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Serving;

/// <summary>
/// One model served to many callers: <see cref="ModelHostOptions.Slots"/> inference sessions (each its own KV cache)
/// over one copy of the weights, a bounded queue for requests waiting for a slot, and per-request cancellation.
/// A request goes to the free slot whose cache shares the longest prefix with its prompt, and only the rest of the
/// prompt is computed (llama-server's prompt cache), so a growing chat costs only its new turn.
/// </summary>
/// <remarks>
/// Each request runs on its own dedicated thread: decoding is CPU-bound and must not hold thread-pool threads the
/// HTTP server needs. Slots run concurrently; the kernels' shared worker pool serves one of them at a time with all
/// cores and the others inline on their own threads, which is correct and keeps every core busy.
/// </remarks>
public sealed class ModelHost : IDisposable
{
    private readonly LlamaModel _model;
    private readonly Slot[] _slots;
    private readonly SemaphoreSlim _free;
    private readonly object _gate = new();
    private readonly int[] _stopIds;
    private int _waiting;
    private bool _disposed;

    /// <param name="model">The model (not disposed by the host).</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="options">Slots, context, queue and naming.</param>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="ContextMemoryException">The slots' caches would not fit in memory.</exception>
    public ModelHost(LlamaModel model, ITokenizer tokenizer, ModelHostOptions? options = null)
    {
        options ??= new ModelHostOptions();
        if (options.Slots < 1) throw new ArgumentException($"slots must be ≥ 1, not {options.Slots}");
        if (options.QueueLimit < 0) throw new ArgumentException($"the queue limit must be ≥ 0, not {options.QueueLimit}");
        _model = model;
        Tokenizer = tokenizer;
        ContextLength = options.ContextLength > 0 ? options.ContextLength : model.Config.MaxPositionEmbeddings;
        QueueLimit = options.QueueLimit;
        ModelName = options.ModelName ?? Path.GetFileNameWithoutExtension(model.Source);
        Template = options.Template ?? TryDetect(tokenizer.Vocabulary.ChatTemplate, model.Source);
        _slots = new Slot[options.Slots];
        for (int i = 0; i < _slots.Length; i++) _slots[i] = new Slot(new InferenceSession(model, ContextLength));
        _free = new SemaphoreSlim(_slots.Length, _slots.Length);
        _stopIds = tokenizer.Vocabulary.EndOfGenerationIds();
    }

    /// <summary>The model's tokenizer.</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>The chat template, or null when the model has none Elongate recognises (chat requests then fail).</summary>
    public ChatTemplate? Template { get; }

    /// <summary>Context window of each slot.</summary>
    public int ContextLength { get; }

    /// <summary>Number of slots.</summary>
    public int Slots => _slots.Length;

    /// <summary>Requests allowed to wait for a slot.</summary>
    public int QueueLimit { get; }

    /// <summary>The name clients address the model by.</summary>
    public string ModelName { get; }

    /// <summary>The served model.</summary>
    public LlamaModel Model => _model;

    /// <summary>Requests running now.</summary>
    public int Busy => _slots.Length - _free.CurrentCount;

    /// <summary>Requests waiting for a slot now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Bytes of KV cache and activations all slots hold.</summary>
    public long SlotBytes => _slots.Length * InferenceSession.RequiredBytes(_model.Config, ContextLength, _slots[0].Session.BatchSize, _slots[0].Session.CacheType);

    /// <summary>Tokenizes plain text as a prompt: BOS when the vocabulary asks for it, control tokens parsed.</summary>
    public int[] TokenizePrompt(string text, bool parseSpecial = true) => PromptEncoding.Encode(Tokenizer, text, parseSpecial);

    /// <summary>Renders messages with the chat template and tokenizes them, ending with the assistant's cue.</summary>
    /// <exception cref="InvalidOperationException">The model has no chat template.</exception>
    /// <exception cref="ArgumentException">A role the template does not support.</exception>
    public int[] TokenizeChat(IReadOnlyList<ChatTurn> messages)
    {
        var template = Template ?? throw new InvalidOperationException(
            $"{ModelName} has no chat template Elongate recognises: start the server with --chat-template NAME");
        return PromptEncoding.EncodeChat(Tokenizer, template, messages);
    }

    /// <summary>
    /// Runs one generation: waits for a slot (or fails at once when the queue is full), reuses the slot's cached
    /// prefix, computes the rest of the prompt and generates, calling <paramref name="onText"/> with each piece of
    /// text as it becomes final (from the generation thread). Cancellation stops it within one token (or one
    /// 512-token prompt batch) and frees the slot.
    /// </summary>
    /// <exception cref="ServerBusyException">No slot is free and the queue is full.</exception>
    /// <exception cref="ContextOverflowException">The prompt plus max tokens exceed the context.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before any token was generated.</exception>
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, Action<string>? onText = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (request.PromptTokens.Length == 0) throw new ArgumentException("the prompt is empty");
        if (request.MaxTokens < 0) throw new ArgumentException($"max tokens must be ≥ 0, not {request.MaxTokens}");
        foreach (var id in request.PromptTokens)
            if ((uint)id >= (uint)_model.Config.VocabSize) throw new ArgumentException($"token id {id} is outside the {_model.Config.VocabSize}-token vocabulary");
        if (request.PromptTokens.Length + request.MaxTokens > ContextLength)
            throw new ContextOverflowException(request.PromptTokens.Length, request.MaxTokens, ContextLength);
        request.Sampling.Validate();

        if (!_free.Wait(0))
        {
            if (Interlocked.Increment(ref _waiting) > QueueLimit)
            {
                int queued = Interlocked.Decrement(ref _waiting);
                throw new ServerBusyException(_slots.Length, queued);
            }
            try
            {
                await _free.WaitAsync(cancel).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }
        Slot slot;
        lock (_gate) slot = Take(request.PromptTokens);
        try
        {
            return await Task.Factory.StartNew(() => Run(slot, request, onText, cancel), cancel,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate) slot.InUse = false;
            _free.Release();
        }
    }

    /// <summary>The free slot whose cached tokens share the longest prefix with the prompt (first free one on a tie).</summary>
    private Slot Take(int[] prompt)
    {
        Slot? best = null;
        int bestLength = -1;
        foreach (var s in _slots)
        {
            if (s.InUse) continue;
            int n = CommonPrefix(s.Cached, prompt);
            if (n > bestLength) { best = s; bestLength = n; }
        }
        best!.InUse = true;
        return best;
    }

    private static int CommonPrefix(List<int> a, int[] b)
    {
        int n = 0;
        while (n < a.Count && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    private GenerationResult Run(Slot slot, GenerationRequest request, Action<string>? onText, CancellationToken cancel)
    {
        try
        {
            return RunInSlot(slot, request, onText, cancel);
        }
        finally
        {
            // Whatever happened, the slot's record of its cache must match the cache, or the next request would
            // reuse entries that are not there.
            var session = slot.Session;
            if (slot.Cached.Count > session.Position) slot.Cached.RemoveRange(session.Position, slot.Cached.Count - session.Position);
            else if (slot.Cached.Count < session.Position) { session.Reset(); slot.Cached.Clear(); }
        }
    }

    private GenerationResult RunInSlot(Slot slot, GenerationRequest request, Action<string>? onText, CancellationToken cancel)
    {
        var session = slot.Session;
        var prompt = request.PromptTokens;
        bool annotate = request.Echo || request.LogProbs is not null;
        if (annotate && request.MaxTokens == 0)
        {
            // Scoring a text (echo, max_tokens 0): nothing to generate, only the log-probabilities pass below.
            var sw0 = Stopwatch.StartNew();
            var (echo0, logProbs0) = Annotate(slot, request, [], "", cancel);
            return new GenerationResult("", StopReason.Length, prompt.Length, 0, 0, sw0.Elapsed, TimeSpan.Zero, echo0, logProbs0);
        }
        int reuse = Math.Min(CommonPrefix(slot.Cached, prompt), prompt.Length - 1);
        session.Truncate(Math.Min(reuse, session.Position));
        reuse = session.Position;
        slot.Cached.RemoveRange(reuse, slot.Cached.Count - reuse);

        // The prompt up to its last token, in batches, checking for cancellation between them; the last token goes
        // through the generator, which returns the logits for the first new token.
        var sw = Stopwatch.StartNew();
        for (int at = reuse; at < prompt.Length - 1;)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(session.BatchSize, prompt.Length - 1 - at);
            session.Forward(prompt.AsSpan(at, n));
            slot.Cached.AddRange(prompt.AsSpan(at, n));
            at += n;
        }
        var prefill = sw.Elapsed;
        cancel.ThrowIfCancellationRequested();

        var run = TextGenerator.GenerateText(session, [prompt[^1]], request.MaxTokens, new Sampler(request.Sampling), Tokenizer, request.Stop, _stopIds, onText, cancel);
        slot.Cached.Add(prompt[^1]);
        slot.Cached.AddRange(run.Tokens);
        slot.Cached.RemoveRange(session.Position, slot.Cached.Count - session.Position);
        if (!annotate || run.Reason == StopReason.Cancelled)
            return new GenerationResult(run.Text, run.Reason, prompt.Length, run.Tokens.Count, reuse, prefill + run.Stats.PromptTime, run.Stats.GenerationTime);
        var (echo, logProbs) = Annotate(slot, request, run.Tokens, run.Text, cancel);
        return new GenerationResult(run.Text, run.Reason, prompt.Length, run.Tokens.Count, reuse, prefill + run.Stats.PromptTime, run.Stats.GenerationTime,
            echo, logProbs);
    }

    /// <summary>
    /// The echoed prompt and the log-probabilities a request asked for, over the prompt (when echoed) and the
    /// generated tokens that the returned text covers. Logits come from one batched pass over those tokens in the
    /// slot's session: decoding did not keep them, and a row's logits do not depend on the batch it is computed in
    /// beyond the last bits. The prompt's own log-probabilities need the logits at every prompt position, so an echo
    /// recomputes the prompt from position 0 rather than reusing the cache.
    /// </summary>
    private (string? Echo, CompletionLogProbs? LogProbs) Annotate(Slot slot, GenerationRequest request, IReadOnlyList<int> generated, string text,
        CancellationToken cancel)
    {
        var prompt = request.PromptTokens;
        // Generated tokens whose text starts inside the returned text (a stop string may cut the last ones off).
        var genOffsets = Offsets(generated, out int genLength, out _);
        int kept = generated.Count;
        if (genLength > text.Length) while (kept > 0 && genOffsets[kept - 1] >= text.Length) kept--;
        var all = new int[prompt.Length + kept];
        prompt.CopyTo(all, 0);
        for (int j = 0; j < kept; j++) all[prompt.Length + j] = generated[j];

        string? echo = null;
        int first = prompt.Length, textBase = 0;
        int[] promptOffsets = [];
        if (request.Echo)
        {
            promptOffsets = Offsets(prompt, out _, out var decoded);
            echo = request.PromptText ?? decoded;
            first = 0;
            textBase = echo.Length;
        }
        if (request.LogProbs is not { } top) return (echo, null);

        var logProbs = new double?[all.Length - first];
        var tops = new IReadOnlyList<KeyValuePair<string, double>>?[all.Length - first];
        var session = slot.Session;
        // Logits at position p predict token p + 1: positions from first − 1 through the second-to-last token are needed.
        int p0 = Math.Max(first - 1, 0);
        session.Truncate(Math.Min(p0, session.Position));
        if (slot.Cached.Count > session.Position) slot.Cached.RemoveRange(session.Position, slot.Cached.Count - session.Position);
        while (session.Position < p0)
        {
            cancel.ThrowIfCancellationRequested();
            int at = session.Position, n = Math.Min(session.BatchSize, p0 - at);
            session.Forward(all.AsSpan(at, n));
            slot.Cached.AddRange(all.AsSpan(at, n));
        }
        var ids = new int[top];
        for (int at = p0; at < all.Length - 1;)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(session.BatchSize, all.Length - 1 - at);
            var rows = session.ForwardAll(all.AsSpan(at, n));
            slot.Cached.AddRange(all.AsSpan(at, n));
            for (int t = 0; t < n; t++)
            {
                int target = at + t + 1;
                if (target < first) continue;
                var logits = rows[t];
                double lse = Kernels.LogSoftmax.LogSumExp(logits);
                logProbs[target - first] = logits[all[target]] - lse;
                int count = Kernels.LogSoftmax.Top(logits, top, ids);
                var list = new List<KeyValuePair<string, double>>(count);
                for (int k = 0; k < count; k++) list.Add(new(TokenText(ids[k]), logits[ids[k]] - lse));
                tops[target - first] = list;
            }
            at += n;
        }

        var tokens = new string[all.Length - first];
        var offsets = new int[all.Length - first];
        for (int i = first; i < all.Length; i++)
        {
            tokens[i - first] = TokenText(all[i]);
            offsets[i - first] = i < prompt.Length ? Math.Min(promptOffsets[i], textBase) : textBase + genOffsets[i - prompt.Length];
        }
        return (echo, new CompletionLogProbs(all[first..], tokens, logProbs, tops, offsets));
    }

    /// <summary>
    /// Where each token's text starts in the text the tokens decode to, decoded as generation decodes (one UTF-8
    /// stream; the dummy-prefix space dropped after BOS), with the decoded text and its length.
    /// </summary>
    private int[] Offsets(IReadOnlyList<int> ids, out int length, out string text)
    {
        var decoder = new StreamingDecoder(Tokenizer);
        var offsets = new int[ids.Count];
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < ids.Count; i++)
        {
            offsets[i] = sb.Length;
            sb.Append(decoder.Push(ids[i]));
        }
        sb.Append(decoder.Flush());
        length = sb.Length;
        text = sb.ToString();
        return offsets;
    }

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>A token's text for the logprobs lists: its bytes as UTF-8 (control tokens by name), or OpenAI's "bytes:\xNN" for part of a character.</summary>
    private string TokenText(int id)
    {
        var bytes = Tokenizer.TokenBytes(id, special: true);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return "bytes:" + string.Concat(bytes.Select(b => $"\\x{b:x2}"));
        }
    }

    private static ChatTemplate? TryDetect(string? jinja, string source)
    {
        if (jinja is null) return null;
        try
        {
            return ChatTemplate.Detect(jinja, source);
        }
        catch (Common.ModelFormatException)
        {
            return null;
        }
    }

    /// <summary>Refuses new requests; running ones finish on their threads.</summary>
    public void Dispose()
    {
        _disposed = true;
    }

    private sealed class Slot(InferenceSession session)
    {
        public InferenceSession Session { get; } = session;
        /// <summary>The tokens the session's cache holds, in order (Count == Session.Position).</summary>
        public List<int> Cached { get; } = [];
        public bool InUse { get; set; }
    }
}
