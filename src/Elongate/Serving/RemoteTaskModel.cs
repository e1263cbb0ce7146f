using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Evaluation.Tasks;

namespace Elongate.Serving;

/// <summary>
/// <see cref="ITaskModel"/> for a model behind an OpenAI-compatible server (`elongate serve`, llama-server, vLLM):
/// raw prompts through <c>POST /completions</c>, chat prompts through <c>POST /chat/completions</c>, both greedy
/// (temperature 0); scores through <c>/completions</c> with <c>echo</c> and <c>logprobs</c>; tokens through
/// llama-server's <c>/tokenize</c> and <c>/detokenize</c> at the server root, or a local tokenizer.
/// </summary>
/// <remarks>
/// <para>Plain <see cref="HttpClient"/> JSON for every call, chat included. The official OpenAI .NET client (2.15) has
/// no public legacy-completions API: its <c>OpenAI.LegacyCompletions.LegacyCompletionClient</c> and the models it uses
/// are internal (checked by reflection), so /completions, echo and logprobs need HttpClient anyway. Chat could go through
/// <see cref="RemoteChatClients"/>, but then chat and raw calls would fail, time out and retry by two different
/// policies and exception types; one HTTP path gives one behaviour and one kind of error for the harness to report.</para>
/// <para>Scoring sends the prompt as token ids, built exactly as <see cref="LocalTaskModel"/> builds them
/// (<see cref="ScoringWindow"/>), and takes the continuation's log-probabilities by token position, as
/// lm-evaluation-harness's API models do. Selecting tokens by <c>text_offset</c> against the context's character
/// length would put a token that spans the boundary on the wrong side and would not match a local score.</para>
/// <para>Errors are <see cref="RemoteModelException"/>s that name the URL and status. Timeouts, connection failures,
/// 429 and 5xx are retried with exponential backoff; other statuses (401, 400…) fail at once with the server's message.</para>
/// </remarks>
public sealed class RemoteTaskModel : ITaskModel
{
    private readonly HttpClient _http;
    private readonly Uri _api;   // the OpenAI API root, ending in '/': …/v1/
    private readonly Uri _root;  // the server root for llama-server's endpoints: …/
    private readonly RemoteTaskModelOptions _options;
    private int _bos = -1;

    private RemoteTaskModel(Uri api, Uri root, RemoteTaskModelOptions options)
    {
        _api = api;
        _root = root;
        _options = options;
        // Timeouts are per attempt (see SendAsync), so a retried call is not cut short by a client-wide limit.
        _http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        Name = options.Model ?? "";
    }

    /// <inheritdoc/>
    public string Name { get; private set; }

    /// <inheritdoc/>
    public int ContextLength { get; private set; }

    /// <summary>The API root requests go to (e.g. http://127.0.0.1:8080/v1/).</summary>
    public Uri Endpoint => _api;

    /// <summary>
    /// Connects to the server at <paramref name="endpoint"/> (the API root, e.g. http://127.0.0.1:8080/v1; the
    /// tokenizer endpoints are looked for at the root without "/v1"): finds the model, its context length and whether
    /// prompts start with BOS. Fails here, with the URL in the message, when the server is unreachable or refuses the key.
    /// </summary>
    /// <exception cref="ArgumentException">The endpoint is not an absolute http(s) URL, or options are out of range.</exception>
    /// <exception cref="RemoteModelException">The server could not be used (see its message).</exception>
    public static async Task<RemoteTaskModel> ConnectAsync(Uri endpoint, RemoteTaskModelOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        options ??= new RemoteTaskModelOptions();
        if (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https"))
            throw new ArgumentException($"endpoint '{endpoint}' is not an absolute http(s) URL");
        if (options.ContextLength < 0) throw new ArgumentException($"the context length must be ≥ 0, not {options.ContextLength}");
        if (options.Retries < 0) throw new ArgumentException($"retries must be ≥ 0, not {options.Retries}");
        if (options.RequestTimeout <= TimeSpan.Zero) throw new ArgumentException($"the request timeout must be positive, not {options.RequestTimeout}");
        var path = endpoint.AbsolutePath.TrimEnd('/');
        var api = new Uri(endpoint, path + "/");
        var root = new Uri(endpoint, path.EndsWith("/v1", StringComparison.Ordinal) ? path[..^3] + "/" : path + "/");
        var model = new RemoteTaskModel(api, root, options);
        try
        {
            await model.DiscoverAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Model name and context from /models (then /props), BOS from /tokenize or the local tokenizer.</summary>
    private async Task DiscoverAsync(CancellationToken ct)
    {
        var modelsUrl = new Uri(_api, "models");
        var models = await SendAsync(HttpMethod.Get, modelsUrl, null, ct).ConfigureAwait(false);
        var list = (models["data"] as JsonArray)?.OfType<JsonObject>().ToList()
            ?? throw new RemoteModelException(modelsUrl, 200, $"GET {modelsUrl} did not return a model list ('data' is missing)");
        JsonObject? entry;
        if (_options.Model is { } wanted)
        {
            entry = list.FirstOrDefault(m => (string?)m["id"] == wanted);
            if (entry is null && list.Count > 0)
                throw new RemoteModelException(modelsUrl, 200,
                    $"the server at {_api} does not serve '{wanted}'; it lists: {string.Join(", ", list.Select(m => (string?)m["id"]))}");
        }
        else
        {
            entry = list.FirstOrDefault() ?? throw new RemoteModelException(modelsUrl, 200, $"the server at {_api} lists no models");
            Name = (string?)entry["id"] ?? throw new RemoteModelException(modelsUrl, 200, $"GET {modelsUrl}: the first model has no id");
        }

        // Elongate and llama-server report the served context under meta (n_ctx; llama-server's n_ctx_train is the
        // trained one, not what the server allows), vLLM as max_model_len, llama-server also at /props.
        int? served = Int(entry?["meta"]?["n_ctx"]) ?? Int(entry?["max_model_len"]);
        if (served is null)
        {
            var propsUrl = new Uri(_root, "props");
            try
            {
                var props = await SendAsync(HttpMethod.Get, propsUrl, null, ct, retry: false).ConfigureAwait(false);
                served = Int(props["default_generation_settings"]?["n_ctx"]) ?? Int(props["n_ctx"]);
            }
            catch (RemoteModelException e) when (e.Status is 404 or 405 or 200)
            {
                // No llama-server props here: the caller's context length has to do.
            }
        }
        ContextLength = (served, _options.ContextLength) switch
        {
            ({ } s, > 0) => Math.Min(s, _options.ContextLength),
            ({ } s, _) => s,
            (null, > 0) => _options.ContextLength,
            _ => throw new RemoteModelException(modelsUrl, null,
                $"the server at {_api} does not report its context length (GET /models meta.n_ctx or max_model_len, GET /props): give it in {nameof(RemoteTaskModelOptions)}.{nameof(RemoteTaskModelOptions.ContextLength)}"),
        };
        if (ContextLength < 2) throw new RemoteModelException(modelsUrl, null, $"the server at {_api} reports a context of {ContextLength} tokens, too small to use");

        if (_options.Tokenizer is { } tok)
            _bos = tok.Vocabulary is { AddBos: true, BosId: >= 0 } v ? v.BosId : -1;
        else
        {
            // What add_special puts in front of a text is the BOS this server's prompts start with (none for most BPE vocabularies).
            var with = await TokenizeAsync("a", addSpecial: true, ct).ConfigureAwait(false);
            var without = await TokenizeAsync("a", addSpecial: false, ct).ConfigureAwait(false);
            _bos = with.Length > without.Length && with.AsSpan(1, without.Length).SequenceEqual(without) ? with[0] : -1;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="RemoteModelException">The server could not tokenize.</exception>
    public int[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_options.Tokenizer is { } tok) return tok.Encode(text, addBos: false, addEos: false, parseSpecial: false);
        // The interface is synchronous; the pool thread keeps a caller's synchronisation context out of the await.
        return Task.Run(() => TokenizeAsync(text, addSpecial: false, CancellationToken.None)).GetAwaiter().GetResult();
    }

    /// <inheritdoc/>
    /// <exception cref="RemoteModelException">The server could not detokenize.</exception>
    public string Detokenize(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (_options.Tokenizer is { } tok) return tok.Decode(tokens as int[] ?? [.. tokens]);
        return Task.Run(async () =>
        {
            var url = new Uri(_root, "detokenize");
            var reply = await SendAsync(HttpMethod.Post, url, new JsonObject { ["tokens"] = Ids(tokens) }, CancellationToken.None).ConfigureAwait(false);
            return (string?)reply["content"] ?? throw Malformed(url, "'content' is missing");
        }).GetAwaiter().GetResult();
    }

    /// <summary>llama-server's /tokenize; control-token text stays text, as <see cref="LocalTaskModel.Tokenize"/> keeps it.</summary>
    private async Task<int[]> TokenizeAsync(string text, bool addSpecial, CancellationToken ct)
    {
        if (_options.Tokenizer is { } tok) return tok.Encode(text, addBos: false, addEos: false, parseSpecial: false);
        var url = new Uri(_root, "tokenize");
        var reply = await SendAsync(HttpMethod.Post, url, new JsonObject { ["content"] = text, ["add_special"] = addSpecial, ["parse_special"] = false }, ct)
            .ConfigureAwait(false);
        if (reply["tokens"] is not JsonArray ids) throw Malformed(url, "'tokens' is missing");
        try
        {
            return ids.Select(t => t!.GetValue<int>()).ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw Malformed(url, "'tokens' is not a list of token ids");
        }
    }

    /// <inheritdoc/>
    public async Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.MaxNewTokens, 1);
        var body = new JsonObject { ["model"] = Name, ["max_tokens"] = request.MaxNewTokens, ["temperature"] = 0 };
        if (request.Stop.Count > 0) body["stop"] = new JsonArray([.. request.Stop.Select(s => (JsonNode?)s)]);
        Uri url;
        if (request.Chat)
        {
            url = new Uri(_api, "chat/completions");
            body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = request.Prompt });
        }
        else
        {
            url = new Uri(_api, "completions");
            body["prompt"] = request.Prompt;
        }
        var reply = await SendAsync(HttpMethod.Post, url, body, cancellationToken).ConfigureAwait(false);
        var choice = reply["choices"]?[0] ?? throw Malformed(url, "'choices' is missing or empty");
        var text = request.Chat ? (string?)choice["message"]?["content"] : (string?)choice["text"];
        if (text is null) throw Malformed(url, request.Chat ? "'choices[0].message.content' is missing" : "'choices[0].text' is missing");
        return new TaskGeneration(text, Int(reply["usage"]?["prompt_tokens"]) ?? 0, Int(reply["usage"]?["completion_tokens"]) ?? 0);
    }

    /// <inheritdoc/>
    /// <remarks>One request per continuation: <c>/completions</c> with the tokens, <c>echo</c>, <c>logprobs: 1</c> and <c>max_tokens: 0</c>.</remarks>
    public async Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuations);
        // Tokenize every text the split needs first (asynchronously, the shared context once), then split from the table.
        var (ctx, _) = ScoringWindow.MoveTrailingWhitespace(context, "");
        var encoded = new Dictionary<string, int[]>(StringComparer.Ordinal);
        async Task Need(string text)
        {
            if (text.Length > 0 && !encoded.ContainsKey(text)) encoded[text] = await TokenizeAsync(text, addSpecial: false, cancellationToken).ConfigureAwait(false);
        }
        await Need(ctx).ConfigureAwait(false);
        foreach (var c in continuations) await Need(ctx + ScoringWindow.MoveTrailingWhitespace(context, c).Continuation).ConfigureAwait(false);

        var url = new Uri(_api, "completions");
        var scores = new ContinuationScore[continuations.Count];
        for (int i = 0; i < scores.Length; i++)
        {
            var (ctxTokens, contTokens) = ScoringWindow.Split(t => encoded[t], context, continuations[i]);
            var window = ScoringWindow.Build(_bos, ctxTokens, contTokens, ContextLength);
            var body = new JsonObject
            {
                ["model"] = Name, ["prompt"] = Ids(window.Tokens), ["max_tokens"] = 0, ["echo"] = true, ["logprobs"] = 1, ["temperature"] = 0,
            };
            var reply = await SendAsync(HttpMethod.Post, url, body, cancellationToken).ConfigureAwait(false);
            scores[i] = ReadScore(url, reply, window);
        }
        return scores;
    }

    /// <summary>
    /// The continuation's log-probabilities from an echo: entries are by prompt position (a server that also generated
    /// a token appends it after), so the continuation's are those just before index <c>Tokens.Length</c>. Greedy
    /// compares each with the best alternative, as lm-evaluation-harness does over an API.
    /// </summary>
    private static ContinuationScore ReadScore(Uri url, JsonNode reply, ScoringWindow window)
    {
        var lp = reply["choices"]?[0]?["logprobs"] ?? throw Malformed(url, "'choices[0].logprobs' is missing: the server does not return log-probabilities");
        if (lp["token_logprobs"] is not JsonArray values || lp["top_logprobs"] is not JsonArray tops)
            throw Malformed(url, "'logprobs' lacks token_logprobs or top_logprobs");
        if (values.Count < window.Tokens.Length || tops.Count < window.Tokens.Length)
            throw Malformed(url, $"the echo has {values.Count} log-probabilities for a prompt of {window.Tokens.Length} tokens: the server did not echo the prompt");
        double sum = 0;
        bool greedy = true;
        for (int i = window.Tokens.Length - window.ContinuationTokens; i < window.Tokens.Length; i++)
        {
            var value = Double(values[i]) ?? throw Malformed(url, $"token_logprobs[{i}] is not a number");
            sum += value;
            if (tops[i] is not JsonObject top || top.Count == 0) throw Malformed(url, $"top_logprobs[{i}] is empty");
            foreach (var (_, alt) in top)
                if (Double(alt) is { } a && a > value) greedy = false;
        }
        return new ContinuationScore(sum, window.ContinuationTokens, greedy);
    }

    /// <summary>
    /// One HTTP exchange with retries: 429, 5xx, timeouts and connection failures back off and retry; anything else
    /// that is not a 2xx JSON body becomes a <see cref="RemoteModelException"/> naming the URL, status and server message.
    /// </summary>
    private async Task<JsonNode> SendAsync(HttpMethod method, Uri url, JsonObject? body, CancellationToken ct, bool retry = true)
    {
        var delay = _options.RetryDelay;
        int attempts = retry ? _options.Retries + 1 : 1;
        for (int attempt = 1; ; attempt++)
        {
            string failure;
            TimeSpan? retryAfter = null;
            Exception? inner = null;
            int? status = null;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    using var request = new HttpRequestMessage(method, url);
                    if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
                    if (_options.ApiKey is { Length: > 0 } key) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                    using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                    var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                    status = (int)response.StatusCode;
                    if (response.IsSuccessStatusCode)
                    {
                        try
                        {
                            return JsonNode.Parse(text) ?? throw new JsonException("null");
                        }
                        catch (JsonException)
                        {
                            throw new RemoteModelException(url, status,
                                $"{method} {url} answered HTTP {status} with a body that is not JSON: {Snippet(text)} (is this an OpenAI-compatible endpoint?)");
                        }
                    }
                    string message = ServerMessage(text);
                    if (status is 401 or 403)
                        throw new RemoteModelException(url, status,
                            $"{method} {url} was refused as unauthorized (HTTP {status}): {message}. Check the API key.");
                    if (status is not (429 or 408 or >= 500))
                        throw new RemoteModelException(url, status, $"{method} {url} failed with HTTP {status}: {message}");
                    failure = $"HTTP {status}: {message}";
                    retryAfter = response.Headers.RetryAfter?.Delta;
                }
                catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
                {
                    failure = $"no answer within {_options.RequestTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
                    inner = e;
                }
                catch (HttpRequestException e)
                {
                    failure = e.HttpRequestError == HttpRequestError.ConnectionError ? $"cannot connect ({e.Message})" : e.Message;
                    inner = e;
                }
            }
            if (attempt >= attempts)
                throw new RemoteModelException(url, status, $"{method} {url} failed{(attempts > 1 ? $" after {attempts} attempts" : "")}: {failure}", inner);
            var wait = retryAfter is { } ra && ra > delay && ra < TimeSpan.FromMinutes(1) ? ra : delay;
            await Task.Delay(wait, ct).ConfigureAwait(false);
            delay *= 2;
        }
    }

    /// <summary>An OpenAI error object's message, else the start of the body.</summary>
    private static string ServerMessage(string body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject o && (o["error"]?["message"] ?? o["error"] ?? o["message"]) is JsonValue v && v.TryGetValue(out string? m))
                return m;
        }
        catch (JsonException)
        {
        }
        return body.Length == 0 ? "(empty body)" : Snippet(body);
    }

    private static string Snippet(string s)
    {
        s = s.ReplaceLineEndings(" ").Trim();
        return s.Length <= 200 ? s : s[..200] + "…";
    }

    private static RemoteModelException Malformed(Uri url, string what) => new(url, 200, $"unexpected reply from {url}: {what}");

    private static JsonArray Ids(IEnumerable<int> ids) => new([.. ids.Select(id => (JsonNode?)id)]);

    private static int? Int(JsonNode? n) => n is JsonValue v && v.TryGetValue(out int i) ? i
        : n is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && x is >= 0 and <= int.MaxValue ? (int)x : null;

    private static double? Double(JsonNode? n) => n is JsonValue v && v.TryGetValue(out double d) ? d : null;

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}
