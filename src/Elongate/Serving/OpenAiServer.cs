using Elongate.Common;
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Elongate.Model;
using Elongate.Tokenization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Elongate.Serving;

/// <summary>
/// An OpenAI-compatible HTTP server (ASP.NET Core, Kestrel) over a <see cref="ModelHost"/>, so any OpenAI client can
/// use the model: <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c> (whole responses, or server-sent
/// events in OpenAI's chunk format with <c>"stream": true</c>), <c>GET /v1/models</c>, and llama-server's
/// <c>GET /health</c>, <c>POST /tokenize</c> and <c>POST /detokenize</c>.
/// </summary>
/// <remarks>
/// <para><b>Requests.</b> max_tokens (or max_completion_tokens), temperature, top_p, top_k (an extension), seed, stop
/// (a string or up to 16), stream and stream_options.include_usage are honoured; n must be 1. /v1/completions also
/// takes OpenAI's legacy <c>echo</c> and <c>logprobs</c> (0–5 alternatives; not streamed), with <c>max_tokens: 0</c>
/// allowed when echoing, which is how clients score a text (lm-evaluation-harness, vLLM). Fields Elongate cannot
/// honour (penalties, logit biases, tools, chat log-probabilities, JSON output) are refused with 400 rather than
/// ignored; unknown fields are ignored. "model" must be the served name (or absent). The extension
/// <c>"truncate": true</c> drops the oldest non-system messages until a chat request fits; without it nothing is ever
/// truncated and a request that does not fit is a 400 with the token counts.</para>
/// <para><b>Errors</b> are OpenAI error objects (<c>{"error": {"message", "type", "param", "code"}}</c>): 400 for a
/// malformed or invalid request, 401 for a missing or wrong API key, 404 for an unknown model or endpoint, 413 for a
/// body over <see cref="OpenAiServerOptions.MaxRequestBodyBytes"/>, 503 when every slot is busy and the queue is full.
/// No request can crash the server: anything unexpected is a 500 for that request alone.</para>
/// <para><b>Cancellation.</b> A client that disconnects (or stops reading a stream) cancels its generation, which
/// frees its slot within a token.</para>
/// </remarks>
public sealed class OpenAiServer : IAsyncDisposable
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private readonly ModelHost _host;
    private readonly OpenAiServerOptions _options;
    private readonly IPAddress? _address;
    private readonly byte[]? _keyHash;
    private readonly CancellationTokenSource _stopping = new();
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private WebApplication? _app;

    /// <param name="host">The served model (not disposed by the server).</param>
    /// <param name="options">Address, port, API key and limits.</param>
    /// <exception cref="ArgumentException">Bad options (port, host, limits, an empty API key).</exception>
    public OpenAiServer(ModelHost host, OpenAiServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _options = options ??= new OpenAiServerOptions();
        if (options.Port is < 0 or > 65535) throw new ArgumentException($"the port must be in 0–65535, not {options.Port}");
        if (options.MaxRequestBodyBytes < 1) throw new ArgumentException($"the request body limit must be ≥ 1 byte, not {options.MaxRequestBodyBytes}");
        if (options.DefaultMaxTokens is < 1) throw new ArgumentException($"the default max tokens must be ≥ 1, not {options.DefaultMaxTokens}");
        if (!(options.DefaultTemperature >= 0) || !float.IsFinite(options.DefaultTemperature))
            throw new ArgumentException($"the default temperature must be ≥ 0, not {options.DefaultTemperature}");
        if (options.ApiKey is { } key)
        {
            if (string.IsNullOrWhiteSpace(key)) throw new ArgumentException("the API key is empty");
            _keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        }
        // Kestrel binds "localhost" to both loopbacks, but only on a fixed port; port 0 takes IPv4's.
        if (options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) _address = options.Port == 0 ? IPAddress.Loopback : null;
        else if (!IPAddress.TryParse(options.Host, out _address))
            throw new ArgumentException($"the host must be an IP address (127.0.0.1, 0.0.0.0, ::) or localhost, not '{options.Host}'");
    }

    /// <summary>The served model.</summary>
    public ModelHost Host => _host;

    /// <summary>How the server listens.</summary>
    public OpenAiServerOptions Options => _options;

    /// <summary>The addresses the server listens on once started (with the actual port when port 0 was asked for).</summary>
    public IReadOnlyList<string> Urls { get; private set; } = [];

    /// <summary>The first of <see cref="Urls"/>, for clients.</summary>
    /// <exception cref="InvalidOperationException">The server has not started.</exception>
    public Uri BaseAddress => Urls.Count > 0 ? new Uri(Urls[0]) : throw new InvalidOperationException("the server has not started");

    /// <summary>
    /// Binds the address and starts serving; writes to <see cref="OpenAiServerOptions.Log"/> where it listens, the
    /// model, its context, the slots and the memory they use.
    /// </summary>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public async Task StartAsync(CancellationToken cancel = default)
    {
        if (_app is not null) throw new InvalidOperationException("the server has already started");
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Elongate" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = _options.MaxRequestBodyBytes;
            if (_address is null) k.ListenLocalhost(_options.Port);
            else k.Listen(_address, _options.Port);
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var app = builder.Build();
        app.Use(GuardAsync);
        app.UseRouting();
        app.MapPost("/v1/chat/completions", ChatAsync);
        app.MapPost("/v1/completions", CompletionAsync);
        app.MapGet("/v1/models", ModelsAsync);
        app.MapGet("/health", HealthAsync);
        app.MapPost("/tokenize", TokenizeAsync);
        app.MapPost("/detokenize", DetokenizeAsync);
        _app = app;
        await app.StartAsync(cancel).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        Urls = addresses is null ? [] : [.. addresses.Addresses];
        PrintBanner();
    }

    /// <summary>Stops accepting requests, cancels the running generations, and waits (up to 5 s) for them to end.</summary>
    public async Task StopAsync(CancellationToken cancel = default)
    {
        if (_app is null) return;
        _stopping.Cancel();
        await _app.StopAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>Serves until <paramref name="cancel"/> fires (e.g. Ctrl+C), then stops.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        if (_app is null) await StartAsync(cancel).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
        _stopping.Dispose();
    }

    private void PrintBanner()
    {
        if (_options.Log is not { } log) return;
        var m = _host.Model;
        var inv = CultureInfo.InvariantCulture;
        log.WriteLine(string.Create(inv, $"serving {_host.ModelName} at {string.Join(", ", Urls)} (OpenAI API under /v1; /health, /tokenize, /detokenize)"));
        log.WriteLine(string.Create(inv,
            $"context {_host.ContextLength:N0} tokens per slot, {_host.Slots} slot{(_host.Slots == 1 ? "" : "s")}, queue {_host.QueueLimit}, chat template {_host.Template?.Name ?? "none (chat requests refused)"}"));
        log.WriteLine(string.Create(inv,
            $"memory: weights {m.WeightBytes / 1048576.0:F1} MiB ({(m.Storage is null ? "in memory" : "memory-mapped")}), slots {_host.SlotBytes / 1048576.0:F1} MiB (KV caches and buffers), total {(m.WeightBytes + _host.SlotBytes) / 1048576.0:F1} MiB"));
        if (_address is not null && !IPAddress.IsLoopback(_address))
            log.WriteLine($"warning: listening on {_address}, reachable from other machines{(_keyHash is null ? " without an API key" : "")}");
        if (_keyHash is not null) log.WriteLine("API key required (Authorization: Bearer KEY) on every endpoint but /health");
        log.Flush();
    }

    // ---- middleware: authentication, error objects, nothing escapes ----

    private async Task GuardAsync(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            if (_keyHash is not null && ctx.Request.Path != "/health" && !Authorized(ctx.Request))
                throw new OpenAiError(401, "Missing or incorrect API key: send it as 'Authorization: Bearer KEY'.", OpenAiError.InvalidRequest, null, "invalid_api_key");
            await next(ctx).ConfigureAwait(false);
            if (!ctx.Response.HasStarted && ctx.Response.StatusCode is 404 or 405)
                throw new OpenAiError(ctx.Response.StatusCode, $"{(ctx.Response.StatusCode == 404 ? "Unknown endpoint" : "Method not allowed")}: {ctx.Request.Method} {Quote(ctx.Request.Path.Value ?? "", 200)}",
                    OpenAiError.InvalidRequest, null, ctx.Response.StatusCode == 404 ? "unknown_url" : "method_not_allowed");
        }
        catch (Exception) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client has gone; there is no one to answer.
        }
        catch (Exception e)
        {
            var error = Classify(e);
            if (error.Status == 500) Log($"error: {ctx.Request.Method} {ctx.Request.Path}: {e}");
            if (ctx.Response.HasStarted)
            {
                ctx.Abort();
                return;
            }
            try
            {
                ctx.Response.Clear();
                if (error.Status == 401) ctx.Response.Headers.WWWAuthenticate = "Bearer";
                if (error.Status == 503) ctx.Response.Headers.RetryAfter = "1";
                // After a refused body the connection is closed: its unread bytes cannot be skipped safely.
                if (error.Status == 413) ctx.Response.Headers.Connection = "close";
                await WriteJsonAsync(ctx, error.Status, OpenAiJsonWriter.Error(error)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                ctx.Abort();
            }
        }
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        // Hashing first makes the comparison independent of the key's length too.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, _keyHash);
    }

    private OpenAiError Classify(Exception e) => e switch
    {
        OpenAiError o => o,
        ServerBusyException b => new OpenAiError(503, b.Message, "server_error", null, "server_busy"),
        BadHttpRequestException { StatusCode: 413 } => TooLarge(),
        BadHttpRequestException b => OpenAiError.Invalid($"Bad request: {b.Message}"),
        JsonException j => OpenAiError.Invalid($"The body is not valid JSON: {j.Message}"),
        OperationCanceledException when _stopping.IsCancellationRequested => new OpenAiError(503, "The server is shutting down.", "server_error", null, "shutting_down"),
        ArgumentException a => OpenAiError.Invalid(a.Message),
        _ => new OpenAiError(500, "Internal server error; the request was not completed.", "server_error", null, "internal_error"),
    };

    private OpenAiError TooLarge() => new(413,
        $"The request body is larger than this server's limit of {_options.MaxRequestBodyBytes:N0} bytes.", OpenAiError.InvalidRequest, null, "request_too_large");

    // ---- endpoints ----

    private async Task ChatAsync(HttpContext ctx)
    {
        var req = await ReadAsync(ctx, ChatCompletionRequest.Parse).ConfigureAwait(false);
        CheckModel(req.Options.Model);
        var template = _host.Template ?? throw new OpenAiError(400,
            $"{_host.ModelName} has no chat template this server recognises: use /v1/completions, or restart the server with --chat-template NAME.",
            OpenAiError.InvalidRequest, "messages", "no_chat_template");
        var turns = req.Messages;
        var prompt = TokenizeChat(turns);
        int need = req.Options.MaxTokens ?? 1;
        if (req.Truncate && prompt.Length + need > _host.ContextLength)
            (turns, prompt) = Truncate(turns, need);
        var request = Request(prompt, req.Options, [.. req.Options.Stop, .. template.EndOfTurnMarkers]);
        await GenerateAsync(ctx, request, req.Options, chat: true, truncated: req.Truncate).ConfigureAwait(false);
    }

    private async Task CompletionAsync(HttpContext ctx)
    {
        var req = await ReadAsync(ctx, CompletionRequest.Parse).ConfigureAwait(false);
        CheckModel(req.Options.Model);
        var prompt = req.PromptTokens ?? _host.TokenizePrompt(req.PromptText!);
        if (prompt.Length == 0) throw OpenAiError.Invalid("The prompt is empty (and the vocabulary adds no BOS token to start from).", "prompt");
        var request = Request(prompt, req.Options, req.Options.Stop) with { Echo = req.Echo, LogProbs = req.LogProbs, PromptText = req.PromptText };
        await GenerateAsync(ctx, request, req.Options, chat: false).ConfigureAwait(false);
    }

    private Task ModelsAsync(HttpContext ctx)
    {
        var m = _host.Model;
        return WriteJsonAsync(ctx, 200, OpenAiJsonWriter.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            w.WriteString("id", _host.ModelName);
            w.WriteString("object", "model");
            w.WriteNumber("created", _created);
            w.WriteString("owned_by", "elongate");
            w.WriteStartObject("meta");
            w.WriteNumber("n_ctx", _host.ContextLength);
            w.WriteNumber("n_ctx_train", m.Config.MaxPositionEmbeddings);
            w.WriteNumber("n_vocab", m.Config.VocabSize);
            w.WriteNumber("n_embd", m.Config.HiddenSize);
            w.WriteNumber("size", m.WeightBytes);
            w.WriteNumber("slots", _host.Slots);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }));
    }

    private Task HealthAsync(HttpContext ctx)
    {
        int busy = _host.Busy;
        return WriteJsonAsync(ctx, 200, OpenAiJsonWriter.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "ok");
            w.WriteNumber("slots_idle", _host.Slots - busy);
            w.WriteNumber("slots_processing", busy);
            w.WriteNumber("requests_waiting", _host.Waiting);
            w.WriteEndObject();
        }));
    }

    /// <summary>llama-server's /tokenize: {"content", "add_special" (false), "parse_special" (true), "with_pieces" (false)} → {"tokens"}.</summary>
    private async Task TokenizeAsync(HttpContext ctx)
    {
        var (content, addSpecial, parseSpecial, withPieces) = await ReadAsync(ctx, (root, _) =>
        {
            if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("the request body must be a JSON object");
            var content = OpenAiJsonReader.String(root, "content") ?? throw OpenAiError.Invalid("'content' is required", "content");
            return (content, OpenAiJsonReader.Bool(root, "add_special") ?? false, OpenAiJsonReader.Bool(root, "parse_special") ?? true,
                OpenAiJsonReader.Bool(root, "with_pieces") ?? false);
        }).ConfigureAwait(false);
        var tok = _host.Tokenizer;
        var v = tok.Vocabulary;
        var ids = tok.Encode(content, addBos: addSpecial && v.AddBos && v.BosId >= 0, addEos: addSpecial && v.AddEos && v.EosId >= 0, parseSpecial);
        await WriteJsonAsync(ctx, 200, OpenAiJsonWriter.Json(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var id in ids)
            {
                if (!withPieces)
                {
                    w.WriteNumberValue(id);
                    continue;
                }
                w.WriteStartObject();
                w.WriteNumber("id", id);
                var bytes = tok.TokenBytes(id, special: true);
                string? piece;
                try
                {
                    piece = StrictUtf8.GetString(bytes);
                }
                catch (DecoderFallbackException)
                {
                    piece = null;
                }
                // As llama-server: the piece as text when it is valid UTF-8, else its bytes.
                if (piece is not null) w.WriteString("piece", piece);
                else
                {
                    w.WriteStartArray("piece");
                    foreach (var b in bytes) w.WriteNumberValue(b);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        })).ConfigureAwait(false);
    }

    /// <summary>llama-server's /detokenize: {"tokens": [ids]} → {"content"} (control tokens vanish, as in generated text).</summary>
    private async Task DetokenizeAsync(HttpContext ctx)
    {
        int count = _host.Tokenizer.Vocabulary.Count;
        var ids = await ReadAsync(ctx, (root, _) =>
        {
            if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.Invalid("the request body must be a JSON object");
            if (OpenAiJsonReader.Field(root, "tokens") is not { ValueKind: JsonValueKind.Array } tokens)
                throw OpenAiError.Invalid("'tokens' must be an array of token ids", "tokens");
            var ids = new int[tokens.GetArrayLength()];
            int i = 0;
            foreach (var t in tokens.EnumerateArray())
            {
                if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out ids[i]) || (uint)ids[i] >= (uint)count)
                    throw OpenAiError.Invalid($"'tokens[{i}]' is not a token id of this {count}-token vocabulary", "tokens");
                i++;
            }
            return ids;
        }).ConfigureAwait(false);
        var text = _host.Tokenizer.Decode(ids);
        await WriteJsonAsync(ctx, 200, OpenAiJsonWriter.Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("content", OpenAiJsonWriter.Clean(text));
            w.WriteEndObject();
        })).ConfigureAwait(false);
    }

    // ---- generation ----

    private void CheckModel(string? model)
    {
        if (model is not null && model != _host.ModelName)
            throw new OpenAiError(404, $"The model '{Quote(model, 100)}' does not exist; this server serves '{_host.ModelName}'.",
                OpenAiError.InvalidRequest, "model", "model_not_found");
    }

    private int[] TokenizeChat(IReadOnlyList<ChatTurn> turns)
    {
        try
        {
            return _host.TokenizeChat(turns);
        }
        catch (ArgumentException e)
        {
            throw OpenAiError.Invalid(e.Message, "messages");
        }
    }

    /// <summary>
    /// The conversation without its oldest non-system messages, as few dropped as make the prompt plus
    /// <paramref name="need"/> tokens fit (the last message is always kept). Binary search over how many are
    /// dropped, so a long conversation costs a few tokenizations, not one per message.
    /// </summary>
    private (List<ChatTurn>, int[]) Truncate(List<ChatTurn> turns, int need)
    {
        var droppable = new List<int>();
        for (int i = 0; i < turns.Count - 1; i++)
            if (turns[i].Role != "system") droppable.Add(i);
        var prompts = new Dictionary<int, (List<ChatTurn> Turns, int[] Prompt)>();
        (List<ChatTurn> Turns, int[] Prompt) Without(int k)
        {
            if (prompts.TryGetValue(k, out var cached)) return cached;
            var drop = droppable.Take(k).ToHashSet();
            List<ChatTurn> kept = [.. turns.Where((_, i) => !drop.Contains(i))];
            return prompts[k] = (kept, TokenizeChat(kept));
        }
        bool Fits(int k) => Without(k).Prompt.Length + need <= _host.ContextLength;
        // Dropping none does not fit (the caller checked); find the fewest drops that do.
        int lo = 1, hi = droppable.Count;
        if (!Fits(hi)) return Without(hi); // even the shortest does not fit: the caller reports the overflow
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (Fits(mid)) hi = mid;
            else lo = mid + 1;
        }
        return Without(lo);
    }

    private GenerationRequest Request(int[] prompt, OpenAiRequestOptions o, IReadOnlyList<string> stops)
    {
        int room = Math.Max(1, _host.ContextLength - prompt.Length);
        bool topPZero = o.TopP == 0; // nucleus of mass 0: only the most likely token
        return new GenerationRequest
        {
            PromptTokens = prompt,
            MaxTokens = o.MaxTokens ?? Math.Min(room, _options.DefaultMaxTokens ?? int.MaxValue),
            Sampling = new SamplingOptions
            {
                Temperature = o.Temperature ?? _options.DefaultTemperature,
                TopP = topPZero ? 1f : o.TopP ?? 1f,
                TopK = topPZero ? 1 : o.TopK ?? 0,
                Seed = o.Seed is { } s ? unchecked((int)(s ^ (s >> 32))) : Random.Shared.Next(),
            },
            Stop = stops,
        };
    }

    private async Task GenerateAsync(HttpContext ctx, GenerationRequest request, OpenAiRequestOptions o, bool chat, bool truncated = false)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string model = _host.ModelName;
        string promptParam = chat ? "messages" : "prompt";
        if (!o.Stream)
        {
            var r = await Run(_host.GenerateAsync(request, null, cancel.Token), o, promptParam, truncated).ConfigureAwait(false);
            if (r.FinishReason == StopReason.Cancelled) throw new OperationCanceledException();
            await WriteJsonAsync(ctx, 200, chat ? OpenAiJsonWriter.ChatCompletion(id, created, model, r) : OpenAiJsonWriter.Completion(id, created, model, r))
                .ConfigureAwait(false);
            return;
        }

        // Text arrives on the generation thread; this request's channel carries it to this request's response only.
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var run = _host.GenerateAsync(request, text => channel.Writer.TryWrite(text), cancel.Token);
        _ = run.ContinueWith(_ => channel.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            // Until the first text (or the end), a refusal — full queue, context overflow — is still an HTTP status.
            await channel.Reader.WaitToReadAsync(cancel.Token).ConfigureAwait(false);
            if (run.IsFaulted || run.IsCanceled) await Run(run, o, promptParam, truncated).ConfigureAwait(false);

            var response = ctx.Response;
            response.StatusCode = 200;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            if (chat) await SendAsync(response, OpenAiJsonWriter.ChatChunk(id, created, model, true, "", null, o.IncludeUsage), cancel.Token).ConfigureAwait(false);
            await foreach (var text in channel.Reader.ReadAllAsync(cancel.Token).ConfigureAwait(false))
            {
                var chunk = chat
                    ? OpenAiJsonWriter.ChatChunk(id, created, model, false, text, null, o.IncludeUsage)
                    : OpenAiJsonWriter.CompletionChunk(id, created, model, text, null, o.IncludeUsage);
                await SendAsync(response, chunk, cancel.Token).ConfigureAwait(false);
            }
            GenerationResult r;
            try
            {
                r = await run.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The response has started: the error goes in the stream, as llama-server does.
                var error = Classify(e);
                if (error.Status == 500) Log($"error: {ctx.Request.Method} {ctx.Request.Path} (streaming): {e}");
                await SendAsync(response, OpenAiJsonWriter.Error(error), cancel.Token).ConfigureAwait(false);
                return;
            }
            if (r.FinishReason == StopReason.Cancelled) return;
            var last = chat
                ? OpenAiJsonWriter.ChatChunk(id, created, model, false, null, r.FinishReason, o.IncludeUsage)
                : OpenAiJsonWriter.CompletionChunk(id, created, model, "", r.FinishReason, o.IncludeUsage);
            await SendAsync(response, last, cancel.Token).ConfigureAwait(false);
            if (o.IncludeUsage)
                await SendAsync(response, OpenAiJsonWriter.UsageChunk(id, chat ? "chat.completion.chunk" : "text_completion", created, model, r), cancel.Token)
                    .ConfigureAwait(false);
            await response.Body.WriteAsync(Done, cancel.Token).ConfigureAwait(false);
            await response.Body.FlushAsync(cancel.Token).ConfigureAwait(false);
        }
        finally
        {
            // However this ends (a client that went away, a failed write), the generation stops and frees its slot.
            cancel.Cancel();
            try
            {
                await run.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Observed; already reported above when it mattered.
            }
        }
    }

    /// <summary>Awaits a generation, turning a context overflow into its 400 with the token counts and what to do.</summary>
    private static async Task<GenerationResult> Run(Task<GenerationResult> run, OpenAiRequestOptions o, string param, bool truncated)
    {
        try
        {
            return await run.ConfigureAwait(false);
        }
        catch (ContextOverflowException e)
        {
            int p = e.PromptTokens, c = e.ContextLength;
            string what = param == "messages" ? "messages" : "prompt";
            string need = o.MaxTokens is { } m
                ? $"the request needs {p + m}: {p} in the {what} and {m} for max_tokens"
                : $"the {what} alone {(what == "messages" ? "take" : "takes")} {p}, leaving no room to generate";
            string advice = truncated
                ? "Even with every older message dropped, the system messages and the last message do not fit; shorten them or lower max_tokens."
                : param == "messages"
                    ? "Shorten the messages, lower max_tokens, or send \"truncate\": true to drop the oldest messages."
                    : "Shorten the prompt or lower max_tokens.";
            throw OpenAiError.Invalid($"This model's context is {c} tokens, but {need}. {advice}", param, "context_length_exceeded");
        }
    }

    // ---- plumbing ----

    private async Task<T> ReadAsync<T>(HttpContext ctx, Func<JsonElement, int, T> parse)
    {
        var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw OpenAiError.Invalid($"The body is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            try
            {
                return parse(doc.RootElement, _host.ContextLength);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or JsonException)
            {
                // E.g. a string that is not valid UTF-8.
                throw OpenAiError.Invalid($"The body is not a valid request: {e.Message}");
            }
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext ctx)
    {
        long limit = _options.MaxRequestBodyBytes;
        if (ctx.Request.ContentLength > limit) throw TooLarge();
        using var body = new MemoryStream((int)Math.Min(ctx.Request.ContentLength ?? 4096, Math.Min(limit, 1 << 20)));
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            while (true)
            {
                int n = await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted).ConfigureAwait(false);
                if (n == 0) break;
                if (body.Length + n > limit) throw TooLarge();
                body.Write(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return body.GetBuffer().AsMemory(0, (int)body.Length);
    }

    private static async Task WriteJsonAsync(HttpContext ctx, int status, byte[] json)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = json.Length;
        await ctx.Response.Body.WriteAsync(json, ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task SendAsync(HttpResponse response, byte[] json, CancellationToken cancel)
    {
        var frame = new byte[DataPrefix.Length + json.Length + 2];
        DataPrefix.CopyTo(frame, 0);
        json.CopyTo(frame, DataPrefix.Length);
        frame[^2] = (byte)'\n';
        frame[^1] = (byte)'\n';
        await response.Body.WriteAsync(frame, cancel).ConfigureAwait(false);
        await response.Body.FlushAsync(cancel).ConfigureAwait(false);
    }

    private static string Quote(string s, int max) => OpenAiJsonWriter.Clean(s.Length <= max ? s : s[..max] + "…");

    private void Log(string line)
    {
        if (_options.Log is not { } log) return;
        lock (log)
        {
            log.WriteLine(line);
            log.Flush();
        }
    }
}
