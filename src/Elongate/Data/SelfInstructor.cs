using Elongate.Common;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Tokenization;
using Microsoft.Extensions.AI;

namespace Elongate.Data;

/// <summary>
/// Self-instruct long QA: draws seeded random chunks of long documents (measured in the student's tokens), asks a
/// teacher chat model for a question and a short or long answer about each chunk, asks it again whether the answer is
/// supported by the chunk, and writes each kept pair as a chat-format training example whose user turn is the whole
/// document (cut to fit <see cref="SelfInstructOptions.MaxContext"/>, the evidence chunk always kept) followed by the
/// question, and whose assistant turn is the answer.
/// </summary>
/// <remarks>
/// <para><b>Resumable.</b> Each work item (document, chunk, kind) has a key; kept examples are appended to the output
/// and rejected items to <see cref="RejectedPathFor"/>, one line each, flushed as they are decided. A rerun reads both
/// files and skips the keys it finds (a torn last line from a kill is cut off first). Items are decided in work-item
/// order and every item has its own seed, so a run stopped mid-way and rerun ends with the same set as one that was
/// not stopped.</para>
/// <para><b>Teacher failures.</b> HTTP 429, 5xx, timeouts and connection errors are retried with exponential backoff;
/// an endpoint still failing after the retries, or answering 401/403, stops the run with
/// <see cref="SelfInstructTeacherException"/>, as does a local teacher that cannot take chat requests at all. Other
/// per-request errors (a 400 for a prompt too long…) count the item as "teacher-error" without recording it as done,
/// so a rerun asks again.</para>
/// </remarks>
public static class SelfInstructor
{
    /// <summary>Rejection reasons.</summary>
    public const string Parse = "parse", Length = "length", SelfCheck = "self-check", Duplicate = "duplicate", NearDuplicate = "near-duplicate",
        TeacherError = "teacher-error";

    /// <summary>Where rejected items of <paramref name="output"/> are recorded: OUT.rejected.jsonl.</summary>
    public static string RejectedPathFor(string output) => Path.ChangeExtension(output, null) + ".rejected.jsonl";

    /// <summary>Where the report of <paramref name="output"/> goes: OUT.report.json.</summary>
    public static string ReportPathFor(string output) => Path.ChangeExtension(output, null) + ".report.json";

    /// <summary>Where the evidence-position histogram of <paramref name="output"/> goes: OUT.evidence.png.</summary>
    public static string PlotPathFor(string output) => Path.ChangeExtension(output, null) + ".evidence.png";

    /// <summary>The work items of <paramref name="documents"/>: <see cref="SelfInstructOptions.PairsPerDocument"/> chunks each, times the kinds.</summary>
    public static List<SelfInstructWorkItem> Plan(IReadOnlyList<SelfInstructDocument> documents, SelfInstructOptions options)
    {
        var items = new List<SelfInstructWorkItem>();
        for (int d = 0; d < documents.Count; d++)
        {
            var doc = documents[d];
            int n = doc.Tokens.Length;
            if (n == 0) continue;
            int chunks = n <= options.ChunkTokens ? 1 : options.PairsPerDocument;
            for (int c = 0; c < chunks; c++)
            {
                var rng = new SplitMix64(Mix(options.Seed, doc.Name, c));
                int len = Math.Min(options.ChunkTokens, n);
                int offset = n - len == 0 ? 0 : rng.NextInt(n - len + 1);
                foreach (var kind in options.Kinds)
                    items.Add(new SelfInstructWorkItem(d, doc.Name, c, kind, offset, len, Mix(options.Seed ^ 0x5e1f, doc.Name, c * 16 + (int)kind)));
            }
        }
        return items;
    }

    private static ulong Mix(ulong seed, string name, int index)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (var b in Encoding.UTF8.GetBytes(name)) h = (h ^ b) * 1099511628211UL;
        var rng = new SplitMix64(h ^ ((ulong)(uint)index << 32));
        return rng.NextUInt64();
    }

    /// <summary>Runs the pipeline; writes the output, the rejected list, the report JSON and the histogram PNG.</summary>
    /// <param name="options">What to do.</param>
    /// <param name="teacher">The chat model that writes and checks the pairs.</param>
    /// <param name="progress">Called after each decided item (from the writing loop, one call at a time).</param>
    /// <param name="cancellationToken">
    /// Stops the run: teacher calls in flight are abandoned (a call that ignores the token is not waited for beyond a
    /// short grace), what was decided stays written as complete lines, the report of the partial run is written, and
    /// <see cref="SelfInstructInterruptedException"/> carries it. A rerun resumes to the same final set.
    /// </param>
    /// <exception cref="ArgumentException">Bad options or documents.</exception>
    /// <exception cref="SelfInstructInterruptedException">The token was cancelled once items were being decided.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled before (while reading the documents).</exception>
    /// <exception cref="SelfInstructTeacherException">The teacher is unreachable or refuses the key.</exception>
    public static async Task<SelfInstructReport> RunAsync(SelfInstructOptions options, IChatClient teacher, Action<SelfInstructProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(teacher);
        options.Validate();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (files, excluded) = SelfInstructDocument.Find(options.Documents, options.Exclude);
        var documents = files.Select(f =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            return new SelfInstructDocument(Path.GetFileName(f), f, options.Tokenizer.Encode(File.ReadAllText(f), addBos: false, addEos: false));
        }).ToList();
        var contamination = options.ContaminationDirectory is { } refs
            ? SelfInstructContamination.Check(files.Select(f => (Path.GetFileName(f), File.ReadAllText(f))), refs)
            : [];
        var items = Plan(documents, options);
        var output = Path.GetFullPath(options.OutputPath);
        var rejectedPath = RejectedPathFor(output);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var done = new HashSet<string>(StringComparer.Ordinal);
        // Kept questions are fed in file order, the order they were decided in, so a resumed run judges each new
        // question against the same set as an uninterrupted one.
        var questions = new QuestionDeduplicator(options.NearDuplicateThreshold);
        int keptBefore = 0;
        foreach (var line in ReadLines(output))
        {
            if ((string?)line["key"] is { } key) done.Add(key);
            if ((string?)line["question"] is { } q) questions.Add(q);
            keptBefore++;
        }
        foreach (var line in ReadLines(rejectedPath))
            if ((string?)line["key"] is { } key) done.Add(key);
        var todo = items.Where(i => !done.Contains(i.Key)).ToList();

        var state = new RunState(options, teacher, documents);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var rejected = new SortedDictionary<string, int>(StringComparer.Ordinal)
        {
            [Parse] = 0, [Length] = 0, [SelfCheck] = 0, [Duplicate] = 0, [NearDuplicate] = 0, [TeacherError] = 0,
        };
        var answerLengths = new List<int>();
        var histogram = new int[10];
        int kept = 0, unquoted = 0, decided = 0;
        StreamWriter? keptWriter = null, rejectedWriter = null;
        var window = new Queue<Task<Outcome>>();
        int next = 0;
        bool interrupted = false;
        try
        {
            while (next < todo.Count || window.Count > 0)
            {
                while (next < todo.Count && window.Count < options.Concurrency * 2)
                {
                    var item = todo[next++];
                    window.Enqueue(Task.Run(() => state.ProcessAsync(item, failed), failed.Token));
                }
                Outcome outcome;
                try
                {
                    // WaitAsync: a teacher that ignores the token must not hold the run after Ctrl+C.
                    outcome = await window.Peek().WaitAsync(cancellationToken).ConfigureAwait(false);
                    _ = window.Dequeue();
                }
                catch (Exception) when (state.Fatal is not null)
                {
                    throw state.Fatal;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    interrupted = true;
                    break;
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    // Decided but not yet written: left for the rerun, which decides it the same way.
                    interrupted = true;
                    break;
                }
                if (outcome.Example is not null && questions.Add(outcome.Question!) is { } duplicate)
                    outcome = outcome with { Example = null, Reason = duplicate, Detail = outcome.Question };
                if (outcome.Example is { } example)
                {
                    keptWriter ??= Append(output);
                    keptWriter.WriteLine(example.ToJsonString());
                    keptWriter.Flush();
                    kept++;
                    answerLengths.Add(outcome.AnswerTokens);
                    histogram[Math.Clamp((int)(outcome.EvidencePosition * histogram.Length), 0, histogram.Length - 1)]++;
                    if (!outcome.Quotes) unquoted++;
                }
                else if (outcome.Reason == TeacherError)
                    rejected[TeacherError]++; // not recorded as done: a rerun asks again
                else
                {
                    rejectedWriter ??= Append(rejectedPath);
                    var line = new JsonObject { ["key"] = outcome.Item.Key, ["reason"] = outcome.Reason, ["detail"] = Shorten(outcome.Detail) };
                    rejectedWriter.WriteLine(line.ToJsonString());
                    rejectedWriter.Flush();
                    rejected[outcome.Reason!]++;
                }
                decided++;
                progress?.Invoke(new SelfInstructProgress(decided, todo.Count, kept, decided - kept, state.OutputTokens, watch.Elapsed.TotalSeconds));
            }
        }
        finally
        {
            await failed.CancelAsync().ConfigureAwait(false);
            // In-flight calls see the token; one that does not is abandoned after the grace (its result is never written).
            try { await Task.WhenAll(window).WaitAsync(CancelGrace).ConfigureAwait(false); }
            catch (Exception) { /* cancelled or abandoned with the run */ }
            keptWriter?.Dispose();
            rejectedWriter?.Dispose();
        }
        var warnings = new List<string>();
        if (state.JsonModeFallbacks > 0)
            warnings.Add($"the endpoint rejected response_format json_object (HTTP 400) on a generation request; JSON mode was turned off and "
                + $"{state.JsonModeFallbacks} request(s) were asked again without it (replies parsed as text). Leave out --json-mode for this endpoint.");
        var report = new SelfInstructReport
        {
            Interrupted = interrupted, JsonModeFallbacks = state.JsonModeFallbacks, Warnings = warnings,
            Documents = documents.Count, Excluded = excluded, ShortDocuments = documents.Count(d => d.Tokens.Length <= options.ChunkTokens),
            Chunks = items.Select(i => (i.Document, i.Chunk)).Distinct().Count(), WorkItems = items.Count, Resumed = items.Count - todo.Count,
            Generated = state.Generated, Rejected = rejected, Kept = kept, KeptTotal = keptBefore + kept, Unquoted = unquoted,
            AnswerTokens = LengthReport.From(answerLengths), EvidencePositionHistogram = histogram, TeacherOutputTokens = state.OutputTokens,
            Seconds = watch.Elapsed.TotalSeconds, Output = output, Contamination = contamination,
        };
        Common.AtomicFile.WriteAllText(ReportPathFor(output), report.ToJson());
        SelfInstructPlots.WriteEvidenceHistogram(PlotPathFor(output), report);
        if (interrupted) throw new SelfInstructInterruptedException(report, cancellationToken);
        return report;
    }

    /// <summary>How long a cancelled run waits for teacher calls in flight to notice before it abandons them.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(2);

    private static string? Shorten(string? s) => s is null || s.Length <= 300 ? s : s[..300] + "…";

    private static StreamWriter Append(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));

    /// <summary>The JSON objects of a JSON Lines file written by a run; a torn or invalid last line (a killed run) is cut off the file.</summary>
    private static List<JsonObject> ReadLines(string path)
    {
        var result = new List<JsonObject>();
        if (!File.Exists(path)) return result;
        var bytes = File.ReadAllBytes(path);
        long good = 0;
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n') continue;
            var text = Encoding.UTF8.GetString(bytes, start, i - start).Trim();
            start = i + 1;
            if (text.Length == 0) { good = start; continue; }
            JsonObject? obj = null;
            try { obj = JsonNode.Parse(text) as JsonObject; }
            catch (JsonException) { }
            if (obj is null) break;
            result.Add(obj);
            good = start;
        }
        if (good < bytes.Length)
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
            f.SetLength(good);
        }
        return result;
    }

    /// <summary>What one work item came to: an example to write, or a rejection reason.</summary>
    private sealed record Outcome(SelfInstructWorkItem Item, JsonObject? Example, string? Question, string? Reason, string? Detail,
        int AnswerTokens = 0, double EvidencePosition = 0, bool Quotes = true);

    /// <summary>The shared state of the item workers.</summary>
    private sealed class RunState(SelfInstructOptions options, IChatClient teacher, List<SelfInstructDocument> documents)
    {
        private readonly SemaphoreSlim _slots = new(options.Concurrency, options.Concurrency);
        private readonly ConcurrentDictionary<int, string> _chunkText = new();
        private int _generated, _jsonModeFallbacks;
        private long _outputTokens;
        private volatile bool _jsonRejected;

        public Exception? Fatal;
        public int Generated => _generated;
        public int JsonModeFallbacks => Volatile.Read(ref _jsonModeFallbacks);
        public long OutputTokens => Interlocked.Read(ref _outputTokens);

        public async Task<Outcome> ProcessAsync(SelfInstructWorkItem item, CancellationTokenSource failed)
        {
            try
            {
                return await Decide(item, failed.Token).ConfigureAwait(false);
            }
            catch (SelfInstructTeacherException e)
            {
                Interlocked.CompareExchange(ref Fatal, e, null);
                await failed.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        private async Task<Outcome> Decide(SelfInstructWorkItem item, CancellationToken ct)
        {
            var doc = documents[item.Document];
            var tok = options.Tokenizer;
            var chunk = tok.Decode(doc.Tokens.AsSpan(item.ChunkTokenOffset, item.ChunkTokenCount));
            var maxOut = item.Kind == SelfInstructKind.Long ? options.MaxLongAnswerTokens + 256 : options.MaxShortAnswerTokens + 192;
            var (reply, error) = await Ask(options.Prompts.Generation(item.Kind, chunk), new ChatOptions
            {
                Temperature = options.Temperature, Seed = (long)(item.Seed >> 1), MaxOutputTokens = maxOut,
            }, ct, json: options.JsonMode).ConfigureAwait(false);
            if (reply is null) return new Outcome(item, null, null, error!.Value.Reason, error.Value.Detail);
            Interlocked.Increment(ref _generated);
            if (SelfInstructParser.ParsePair(reply) is not var (question, answer))
                return new Outcome(item, null, null, Parse, reply);
            int qTokens = tok.Encode(question, false, false).Length, aTokens = tok.Encode(answer, false, false).Length;
            int maxAnswer = item.Kind == SelfInstructKind.Long ? options.MaxLongAnswerTokens : options.MaxShortAnswerTokens;
            int budget = options.MaxContext - options.TemplateMargin - qTokens - aTokens - 2;
            if (aTokens > maxAnswer || budget < item.ChunkTokenCount)
                return new Outcome(item, null, question, Length, $"answer {aTokens} tokens (max {maxAnswer}), question {qTokens} tokens, room for the document {budget} tokens");
            var (verdictReply, verdictError) = await Ask(options.Prompts.SelfCheck(chunk, question, answer),
                new ChatOptions { Temperature = 0, MaxOutputTokens = 8, Seed = (long)(item.Seed >> 2) }, ct).ConfigureAwait(false);
            if (verdictReply is null) return new Outcome(item, null, question, verdictError!.Value.Reason, verdictError.Value.Detail);
            if (SelfInstructParser.ParseVerdict(verdictReply) != true)
                return new Outcome(item, null, question, SelfCheck, verdictReply);

            // The document cut to the budget, around the chunk: a seeded window that contains it.
            int n = doc.Tokens.Length, start = 0, length = n;
            if (n > budget)
            {
                length = budget;
                int lo = Math.Max(0, item.ChunkTokenOffset + item.ChunkTokenCount - budget), hi = Math.Min(item.ChunkTokenOffset, n - budget);
                var rng = new SplitMix64(item.Seed);
                start = lo + rng.NextInt(hi - lo + 1);
            }
            var document = tok.Decode(doc.Tokens.AsSpan(start, length));
            int evidence = item.ChunkTokenOffset - start;
            var example = new JsonObject
            {
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "user", ["content"] = document + "\n\n" + question },
                    new JsonObject { ["role"] = "assistant", ["content"] = answer }),
                ["source"] = doc.Name,
                ["key"] = item.Key,
                ["kind"] = item.Kind.ToString().ToLowerInvariant(),
                ["question"] = question,
                ["evidence_token_offset"] = evidence,
                ["chunk_token_offset"] = item.ChunkTokenOffset,
                ["chunk_tokens"] = item.ChunkTokenCount,
                ["document_tokens"] = n,
                ["context_document_tokens"] = length,
                ["document_truncated"] = length < n,
                ["quotes_chunk"] = SelfInstructParser.QuotesChunk(answer, chunk),
            };
            double position = length <= item.ChunkTokenCount ? 0 : (double)evidence / (length - item.ChunkTokenCount + 1);
            return new Outcome(item, example, question, null, null, aTokens, position, SelfInstructParser.QuotesChunk(answer, chunk));
        }

        /// <summary>
        /// One teacher call under the concurrency bound, retried on transient failures: the reply text, or an item-level
        /// error. With <paramref name="json"/> the request asks for a JSON object (response_format json_object) until the
        /// endpoint refuses that: a 400 to such a request is asked again without it, and when that succeeds JSON mode is
        /// off for the rest of the run (servers that do not know response_format answer 400; the text parser copes).
        /// </summary>
        private async Task<(string? Reply, (string Reason, string Detail)? Error)> Ask(string prompt, ChatOptions chatOptions, CancellationToken ct, bool json = false)
        {
            var delay = options.RetryDelay;
            bool fallback = false;
            for (int attempt = 0; ; attempt++)
            {
                await _slots.WaitAsync(ct).ConfigureAwait(false);
                // Decided once the slot is ours: a request queued behind the one that found JSON mode refused goes without it.
                bool asJson = json && !fallback && !_jsonRejected;
                chatOptions.ResponseFormat = asJson ? ChatResponseFormat.Json : null;
                try
                {
                    var response = await teacher.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], chatOptions, ct).ConfigureAwait(false);
                    if (response.Usage?.OutputTokenCount is { } used) Interlocked.Add(ref _outputTokens, used);
                    if (fallback) Interlocked.Increment(ref _jsonModeFallbacks);
                    return (response.Text, null);
                }
                catch (Exception e) when (!ct.IsCancellationRequested && asJson && IsBadRequest(e))
                {
                    // Off at once, so requests waiting for a slot do not ask for JSON too; back on if the plain request
                    // also gets a 400 (then the 400 was about something else, a prompt too long…).
                    _jsonRejected = true;
                    fallback = true;
                    attempt--; // not a failure of the teacher: the same request, without response_format, right away
                    continue;
                }
                catch (Exception e) when (!ct.IsCancellationRequested && fallback && IsBadRequest(e))
                {
                    _jsonRejected = false;
                    return (null, (TeacherError, e.Message));
                }
                catch (Exception e) when (!ct.IsCancellationRequested && Classify(e) is var (transient, fatalMessage))
                {
                    if (fatalMessage is not null) throw new SelfInstructTeacherException(fatalMessage, e);
                    if (!transient) return (null, (e is Common.ContextOverflowException ? Length : TeacherError, e.Message));
                    if (attempt >= options.Retries)
                        throw new SelfInstructTeacherException($"the teacher is unreachable or failing after {attempt + 1} attempt(s): {Describe(e)}", e);
                }
                finally
                {
                    _slots.Release();
                }
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }

    /// <summary>Whether a teacher call failed with HTTP 400 (the endpoint refused the request as malformed).</summary>
    private static bool IsBadRequest(Exception e)
    {
        for (Exception? x = e; x is not null; x = x is AggregateException a ? a.InnerExceptions[0] : x.InnerException)
            if (x is System.ClientModel.ClientResultException { Status: 400 } or HttpRequestException { StatusCode: System.Net.HttpStatusCode.BadRequest }) return true;
        return false;
    }

    /// <summary>(transient, fatal message) for a teacher call's exception; fatal means the run cannot go on (401/403).</summary>
    private static (bool Transient, string? Fatal) Classify(Exception e)
    {
        for (Exception? x = e; x is not null; x = x is AggregateException a ? a.InnerExceptions[0] : x.InnerException)
        {
            switch (x)
            {
                case System.ClientModel.ClientResultException { Status: 401 or 403 } r:
                    return (false, $"the teacher endpoint rejected the request as unauthorized (HTTP {r.Status}): check the API key");
                case System.ClientModel.ClientResultException { Status: 429 or >= 500 or 0 or 408 }:
                    return (true, null);
                case System.ClientModel.ClientResultException:
                    return (false, null);
                case HttpRequestException { StatusCode: System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden } h:
                    return (false, $"the teacher endpoint rejected the request as unauthorized ({h.Message}): check the API key");
                case HttpRequestException:
                case TimeoutException:
                case TaskCanceledException:
                case System.Net.Sockets.SocketException:
                    return (true, null);
                case Common.ServerBusyException:
                    return (true, null);
                case NotSupportedException or InvalidOperationException:
                    // A local teacher that cannot take these requests at all (no chat template, an unsupported option).
                    return (false, $"the teacher cannot answer: {x.Message}");
            }
        }
        return (false, null);
    }

    private static string Describe(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is HttpRequestException or System.Net.Sockets.SocketException) return x.Message;
        return e.Message;
    }
}
