using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Elongate.Serving;
using Xunit.Abstractions;

namespace Elongate.Tests.Serving;

/// <summary>Malformed and random request bodies: every one gets a 4xx with an error body (or, when a mutation happens
/// to be a valid request, a 200); never a 5xx or a dropped connection; and the server answers correctly afterwards.</summary>
[Collection(ServingCollection.Name)]
public class OpenAiServerFuzzTests(ITestOutputHelper output)
{
    private const int Bodies = 10_000;
    private const string Inserted = "{}[]\",:0123456789-.eEtrufalsn\\ \u00ff";

    private static readonly string[] ValidChat =
    [
        """{"model":"tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"temperature":0}""",
        """{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_completion_tokens":2,"stop":["a","b"],"seed":5}""",
        """{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"stream":true,"stream_options":{"include_usage":true},"top_p":0.9,"top_k":5}""",
    ];

    private static readonly string[] ValidCompletion =
    [
        """{"model":"tiny","prompt":"Once upon","max_tokens":2,"temperature":0}""",
        """{"prompt":[1,450,3186],"max_tokens":2,"stream":true,"stop":"x"}""",
        """{"prompt":["Hello"],"max_tokens":1,"n":1,"truncate":false}""",
    ];

    [SkippableFact]
    public async Task TenThousandBadBodiesNeverBreakTheServer()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 2, ContextLength = 64, QueueLimit = 1000 },
            new OpenAiServerOptions { DefaultMaxTokens = 2, MaxRequestBodyBytes = 256 << 10 });
        var rng = new Random(20240611);
        var bodies = new (string Path, byte[] Body)[Bodies];
        for (int i = 0; i < Bodies; i++)
        {
            bool chat = i % 2 == 0;
            var valid = chat ? ValidChat[rng.Next(ValidChat.Length)] : ValidCompletion[rng.Next(ValidCompletion.Length)];
            bodies[i] = (chat ? "/v1/chat/completions" : "/v1/completions", Make(rng, valid, i % 9));
        }

        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentBag<string>();
        int next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Bodies)
            {
                var (path, body) = bodies[i];
                try
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    using var response = await kit.Http.PostAsync(path, content);
                    var text = await response.Content.ReadAsStringAsync();
                    int status = (int)response.StatusCode;
                    statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                    if (status == 200) continue; // a mutation that is still a valid request
                    if (status is < 400 or >= 500) failures.Add($"#{i} {path}: status {status}: {text}");
                    else if (ServerTestKit.TryParse(text)?["error"]?["message"] is null) failures.Add($"#{i} {path}: {status} without an error object: {text}");
                }
                catch (Exception e)
                {
                    failures.Add($"#{i} {path}: {e.GetType().Name}: {e.Message} (body {Convert.ToBase64String(body.AsSpan(0, Math.Min(body.Length, 200)))})");
                }
            }
        })));
        wall.Stop();
        output.WriteLine($"{Bodies} bodies in {wall.Elapsed.TotalSeconds:F1} s; statuses: {string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}×{p.Value}"))}");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
        Assert.True(statuses.Where(p => p.Key >= 400).Sum(p => p.Value) > Bodies * 8 / 10);

        // Still serving, correctly.
        var (s, body2, _) = await kit.PostAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0}""");
        Assert.Equal(200, s);
        Assert.Equal(kit.GreedyChat("Hi", 6), (string?)body2!["choices"]![0]!["message"]!["content"]);
        Assert.Equal(0, kit.Host.Busy);
    }

    /// <summary>One bad body of kind <paramref name="kind"/>, derived from a valid one.</summary>
    private static byte[] Make(Random rng, string valid, int kind)
    {
        var bytes = Encoding.UTF8.GetBytes(valid);
        switch (kind)
        {
            case 0: // random bytes
            {
                var b = new byte[rng.Next(0, 300)];
                rng.NextBytes(b);
                return b;
            }
            case 1: // truncated
                return bytes[..rng.Next(0, bytes.Length)];
            case 2: // a few bytes flipped, inserted or deleted
            {
                var list = bytes.ToList();
                for (int k = rng.Next(1, 5); k > 0 && list.Count > 0; k--)
                {
                    int at = rng.Next(list.Count);
                    switch (rng.Next(3))
                    {
                        case 0: list[at] = (byte)rng.Next(256); break;
                        case 1: list.Insert(at, (byte)Inserted[rng.Next(Inserted.Length)]); break;
                        default: list.RemoveAt(at); break;
                    }
                }
                return [.. list];
            }
            case 3: // a field's value replaced by a value of another type
            {
                var node = JsonNode.Parse(valid)!.AsObject();
                var keys = node.Select(p => p.Key).ToArray();
                node[keys[rng.Next(keys.Length)]] = RandomValue(rng, 3);
                return Encoding.UTF8.GetBytes(node.ToJsonString());
            }
            case 4: // huge, negative, fractional and special numbers
            {
                string[] numbers = ["1e400", "-1e400", "99999999999999999999999", "-1", "0", "1.5", "-0", "2147483648", "9223372036854775808", "1e-400", "NaN", "Infinity"];
                string[] fields = ["max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed", "n"];
                // Or strings that are not valid UTF-16 once unescaped (lone surrogates).
                string[] strings = ["\"\\ud800\"", "\"a\\udfff\\ud800\"", "[\"\\ud800\"]", "\"\\u0000\""];
                string[] stringFields = ["stop", "model", "messages", "prompt"];
                var text = rng.Next(3) == 0
                    ? valid.TrimEnd('}') + $",\"{stringFields[rng.Next(stringFields.Length)]}\":{strings[rng.Next(strings.Length)]}}}"
                    : valid.TrimEnd('}') + $",\"{fields[rng.Next(fields.Length)]}\":{numbers[rng.Next(numbers.Length)]}}}";
                return Encoding.UTF8.GetBytes(text);
            }
            case 5: // deep nesting, in a field or as the whole body
            {
                int depth = rng.Next(50, 5000);
                string open = rng.Next(2) == 0 ? "[" : "{\"a\":";
                string close = open == "[" ? "]" : "}";
                var nested = string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth));
                return Encoding.UTF8.GetBytes(rng.Next(2) == 0 ? nested : valid.TrimEnd('}') + ",\"messages\":" + nested + "}");
            }
            case 6: // unknown fields (often still valid: 200)
            {
                var node = JsonNode.Parse(valid)!.AsObject();
                for (int k = rng.Next(1, 4); k > 0; k--) node["x_" + rng.Next(1000)] = RandomValue(rng, 2);
                // …and a required field removed now and then.
                if (rng.Next(2) == 0) node.Remove(node.ContainsKey("messages") ? "messages" : "prompt");
                return Encoding.UTF8.GetBytes(node.ToJsonString());
            }
            case 7: // a random JSON value as the body
                return Encoding.UTF8.GetBytes(RandomValue(rng, 4)?.ToJsonString() ?? "null");
            default: // messages / prompt of the wrong shape
            {
                var node = JsonNode.Parse(valid)!.AsObject();
                string key = node.ContainsKey("messages") ? "messages" : "prompt";
                node[key] = rng.Next(3) switch
                {
                    0 => new JsonArray(RandomValue(rng, 2), RandomValue(rng, 2)),
                    1 => new JsonArray(new JsonObject { ["role"] = RandomValue(rng, 1), ["content"] = RandomValue(rng, 2) }),
                    _ => RandomValue(rng, 3),
                };
                return Encoding.UTF8.GetBytes(node.ToJsonString());
            }
        }
    }

    private static JsonNode? RandomValue(Random rng, int depth)
    {
        switch (rng.Next(depth > 0 ? 8 : 6))
        {
            case 0: return null;
            case 1: return JsonValue.Create(rng.Next(2) == 0);
            case 2: return JsonValue.Create(rng.Next(-5, 100000));
            case 3: return JsonValue.Create(rng.NextDouble() * Math.Pow(10, rng.Next(-5, 30)) * (rng.Next(2) == 0 ? 1 : -1));
            case 4: return JsonValue.Create(RandomString(rng));
            case 5: return JsonValue.Create(rng.Next(2) == 0 ? "user" : "<|user|>");
            case 6:
            {
                var a = new JsonArray();
                for (int k = rng.Next(0, 4); k > 0; k--) a.Add(RandomValue(rng, depth - 1));
                return a;
            }
            default:
            {
                var o = new JsonObject();
                string[] keys = ["role", "content", "type", "text", "prompt", "messages", "max_tokens", "stop", "x"];
                for (int k = rng.Next(0, 4); k > 0; k--) o[keys[rng.Next(keys.Length)]] = RandomValue(rng, depth - 1);
                return o;
            }
        }
    }

    private static string RandomString(Random rng)
    {
        var sb = new StringBuilder();
        for (int k = rng.Next(0, 20); k > 0; k--)
            sb.Append(rng.Next(4) switch { 0 => (char)rng.Next(32, 127), 1 => (char)rng.Next(0x80, 0x3000), 2 => "<|end|>", _ => (char)rng.Next(0, 32) });
        return sb.ToString();
    }
}
