using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Elongate.Serving;
using Xunit.Abstractions;

namespace Elongate.Tests.Serving;

/// <summary>Many clients at once on loopback: every answer is its own prompt's, and the numbers.</summary>
[Collection(ServingCollection.Name)]
public class OpenAiServerLoadTests(ITestOutputHelper output)
{
    private const int Clients = 16, RequestsPerClient = 8, MaxTokens = 16;

    private static string Prompt(int client, int request) => $"Client {client} asks question {request}: what is item {client * 31 + request * 7}?";

    private static string Body(string prompt) =>
        new JsonObject
        {
            ["model"] = "tiny",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
            ["max_tokens"] = MaxTokens,
            ["temperature"] = 0,
        }.ToJsonString();

    [SkippableFact]
    public async Task SixteenClientsAgainstFourSlotsGetTheirOwnGreedyAnswers()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 4, ContextLength = 128, QueueLimit = 64 });
        // Expected texts, computed one by one in-process.
        var expected = new Dictionary<string, string>();
        for (int c = 0; c < Clients; c++)
            for (int r = 0; r < RequestsPerClient; r++)
                expected[Prompt(c, r)] = kit.GreedyChat(Prompt(c, r), MaxTokens);
        Assert.True(expected.Values.Distinct().Count() > Clients * RequestsPerClient / 2, "the prompts' greedy answers should mostly differ");

        var latencies = new ConcurrentBag<double>();
        var failures = new ConcurrentBag<string>();
        long completionTokens = 0;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < RequestsPerClient; r++)
            {
                var prompt = Prompt(c, r);
                var sw = Stopwatch.StartNew();
                var (status, body, text) = await kit.PostAsync("/v1/chat/completions", Body(prompt));
                latencies.Add(sw.Elapsed.TotalMilliseconds);
                if (status != 200) { failures.Add($"{prompt}: {status} {text}"); continue; }
                var got = (string?)body!["choices"]![0]!["message"]!["content"];
                if (got != expected[prompt]) failures.Add($"{prompt}: expected {expected[prompt]}, got {got}");
                Interlocked.Add(ref completionTokens, (int)body["usage"]!["completion_tokens"]!);
            }
        })));
        wall.Stop();
        Assert.Empty(failures);
        Report(output, "16 clients × 8 requests, 4 slots", latencies, completionTokens, wall.Elapsed);
        Assert.Equal(0, kit.Host.Busy);
    }

    [SkippableFact]
    public async Task AFullQueueRefusesWith503AndServesTheRestCorrectly()
    {
        // Deterministic, not a race: four generations hold the four slots (their text callback blocks on a gate)
        // and two more wait in the queue of two, so every HTTP request sent then must be refused; after the gate
        // opens the same requests are all answered with their own greedy text. (A burst of fast requests on a
        // tiny model may never fill the queue on a given machine, which is why this does not rely on one.)
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 4, ContextLength = 128, QueueLimit = 2 });
        var expected = new Dictionary<string, string>();
        for (int c = 0; c < Clients; c++)
            expected[Prompt(c, 0)] = kit.GreedyChat(Prompt(c, 0), MaxTokens);

        using var gate = new ManualResetEventSlim(false);
        var holders = new List<Task<GenerationResult>>();
        try
        {
            for (int i = 0; i < 4; i++)
                holders.Add(kit.Host.GenerateAsync(new GenerationRequest { PromptTokens = kit.Host.TokenizePrompt($"holder {i}"), MaxTokens = 32 },
                    _ => gate.Wait(TimeSpan.FromSeconds(60))));
            await WaitUntil(() => kit.Host.Busy == 4, "four slots busy");
            for (int i = 0; i < 2; i++)
                holders.Add(kit.Host.GenerateAsync(new GenerationRequest { PromptTokens = kit.Host.TokenizePrompt($"queued {i}"), MaxTokens = 4 }));
            await WaitUntil(() => kit.Host.Waiting == 2, "two requests queued");

            var refused = await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => kit.PostAsync("/v1/chat/completions", Body(Prompt(c, 0)))));
            foreach (var (status, body, text) in refused)
            {
                Assert.Equal(503, status);
                Assert.Equal("server_busy", body?["error"]?["code"]?.GetValue<string>());
            }
            Assert.Equal(2, kit.Host.Waiting);
        }
        finally
        {
            gate.Set();
        }
        await Task.WhenAll(holders);
        Assert.Equal(0, kit.Host.Busy);

        var answered = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
        {
            var (status, body, text) = await kit.PostAsync("/v1/chat/completions", Body(Prompt(c, 0)));
            return (c, status, content: status == 200 ? (string?)body!["choices"]![0]!["message"]!["content"] : text);
        }));
        // Sixteen clients at once against four slots and a queue of two: some may be refused; every answer is right.
        int ok = 0, busy = 0;
        foreach (var (c, status, content) in answered)
        {
            if (status == 503) { busy++; continue; }
            Assert.Equal(200, status);
            Assert.Equal(expected[Prompt(c, 0)], content);
            ok++;
        }
        output.WriteLine($"queue 2, 4 slots: {Clients} refused while full; then {ok} answered, {busy} refused with 503 in a burst of {Clients}");
        Assert.True(ok >= 6, $"at least the four slots and the two queue places must be served, got {ok}");
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"waited 30 s for {what}");
            await Task.Delay(5);
        }
    }

    internal static void Report(ITestOutputHelper output, string what, IEnumerable<double> latencies, long tokens, TimeSpan wall)
    {
        var sorted = latencies.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {sorted.Length} requests in {wall.TotalSeconds:F2} s = {sorted.Length / wall.TotalSeconds:F1} requests/s, " +
            $"{tokens} completion tokens = {tokens / wall.TotalSeconds:F0} tokens/s; latency p50 {P(0.50):F0} ms, p99 {P(0.99):F0} ms, max {sorted[^1]:F0} ms"));
    }
}
