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
    public async Task ASmallQueueRefusesWith503AndServesTheRestCorrectly()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 4, ContextLength = 128, QueueLimit = 2 });
        var expected = new Dictionary<string, string>();
        for (int c = 0; c < Clients; c++)
            for (int r = 0; r < 4; r++)
                expected[Prompt(c, r)] = kit.GreedyChat(Prompt(c, r), MaxTokens);
        int ok = 0, busy = 0;
        var failures = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < 4; r++)
            {
                var prompt = Prompt(c, r);
                var (status, body, text) = await kit.PostAsync("/v1/chat/completions", Body(prompt));
                if (status == 503)
                {
                    Interlocked.Increment(ref busy);
                    if (body?["error"]?["code"]?.GetValue<string>() != "server_busy") failures.Add($"503 without its error body: {text}");
                }
                else if (status != 200) failures.Add($"{prompt}: {status} {text}");
                else if ((string?)body!["choices"]![0]!["message"]!["content"] != expected[prompt]) failures.Add($"{prompt}: wrong text");
                else Interlocked.Increment(ref ok);
            }
        })));
        Assert.Empty(failures);
        output.WriteLine($"queue 2, 4 slots, 16 clients × 4 requests: {ok} answered, {busy} refused with 503");
        Assert.True(busy > 0, "16 clients against 4 slots and a queue of 2 must see some 503s");
        Assert.True(ok > 0);
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
