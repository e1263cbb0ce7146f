using System.Text.Json.Nodes;
using Elongate.Serving;
using Microsoft.Extensions.AI;

namespace Elongate.Tests.Serving;

/// <summary>`elongate serve`'s HTTP API through the official OpenAI .NET client and raw requests.</summary>
[Collection(ServingCollection.Name)]
public class OpenAiServerTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SkippableFact]
    public async Task OfficialClientChatsStreamsAndListsModels()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 2, ContextLength = 256 });
        var client = kit.ChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        string expected = kit.GreedyChat("Tell me about rivers.", 12);
        Assert.NotEmpty(expected);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Tell me about rivers.")], options);
        // Greedy output through the server is generate's (TextGenerator's) for the same rendered prompt.
        Assert.Equal(expected, response.Text);
        int promptTokens = kit.Host.TokenizeChat([new("user", "Tell me about rivers.")]).Length;
        Assert.Equal(promptTokens, response.Usage!.InputTokenCount);
        Assert.True(response.Usage.OutputTokenCount is > 0 and <= 12);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.Equal("tiny", response.ModelId);
        Assert.NotNull(response.FinishReason);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Tell me about rivers.")], options))
            updates.Add(u);
        Assert.True(updates.Count > 2);
        Assert.Equal(expected, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(response.FinishReason, updates.Select(u => u.FinishReason).Last(f => f is not null));
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(response.Usage.OutputTokenCount, usage.Details.OutputTokenCount);
        // The same prompt again: a slot's cache held all of it but the last token.
        Assert.Equal(promptTokens - 1, usage.Details.CachedInputTokenCount);

        var models = (await kit.OpenAIClient().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Equal(["tiny"], models.Select(m => m.Id));
        Assert.Equal("elongate", models[0].OwnedBy);
        var system = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Hi"), new ChatMessage(ChatRole.Assistant, "Hello."), new ChatMessage(ChatRole.User, "Again")],
            options);
        Assert.Equal(kit.Greedy(kit.Host.TokenizeChat([new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello."), new("user", "Again")]), 12,
            kit.Host.Template!.EndOfTurnMarkers), system.Text);
    }

    [SkippableFact]
    public async Task RawChatAndCompletionShapesAndStreams()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 1, ContextLength = 256 });
        string expected = kit.GreedyChat("Hi there", 10);

        var (status, body, _) = await kit.PostAsync("/v1/chat/completions",
            """{"messages":[{"role":"user","content":[{"type":"text","text":"Hi there"}]}],"temperature":0,"max_tokens":10,"stop":null}""");
        Assert.Equal(200, status);
        Assert.StartsWith("chatcmpl-", (string)body!["id"]!);
        Assert.Equal("chat.completion", (string?)body["object"]);
        Assert.Equal("tiny", (string?)body["model"]);
        Assert.True((long)body["created"]! > 1_600_000_000);
        var choice = body["choices"]![0]!;
        Assert.Equal(0, (int)choice["index"]!);
        Assert.Equal("assistant", (string?)choice["message"]!["role"]);
        Assert.Equal(expected, (string?)choice["message"]!["content"]);
        Assert.Contains((string?)choice["finish_reason"], new[] { "stop", "length" });
        var usage = body["usage"]!;
        Assert.Equal((int)usage["prompt_tokens"]! + (int)usage["completion_tokens"]!, (int)usage["total_tokens"]!);
        Assert.NotNull(usage["prompt_tokens_details"]!["cached_tokens"]);

        // Streamed: a role chunk, content chunks, a finish chunk, the usage chunk, [DONE].
        (status, _, var text) = await kit.PostAsync("/v1/chat/completions",
            """{"model":"tiny","messages":[{"role":"user","content":"Hi there"}],"temperature":0,"max_completion_tokens":10,"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.Equal(200, status);
        var (events, done) = ServerTestKit.ParseSse(text);
        Assert.True(done);
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", (string?)e["object"]));
        Assert.Equal("assistant", (string?)events[0]["choices"]![0]!["delta"]!["role"]);
        var content = string.Concat(events.Where(e => e["choices"]!.AsArray().Count > 0).Select(e => (string?)e["choices"]![0]!["delta"]!["content"]));
        Assert.Equal(expected, content);
        Assert.Equal((string?)choice["finish_reason"], (string?)events[^2]["choices"]![0]!["finish_reason"]);
        Assert.Empty(events[^1]["choices"]!.AsArray());
        Assert.Equal((int)usage["completion_tokens"]!, (int)events[^1]["usage"]!["completion_tokens"]!);
        Assert.All(events.Take(events.Count - 1), e => Assert.True(e.AsObject().ContainsKey("usage") && e["usage"] is null));

        // /v1/completions: the prompt as text (BOS added), as token ids, streamed.
        var ids = kit.Host.TokenizePrompt("Once upon a time");
        string expectedText = kit.Greedy(ids, 8);
        (status, body, _) = await kit.PostAsync("/v1/completions", """{"prompt":"Once upon a time","max_tokens":8,"temperature":0}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", (string?)body!["object"]);
        Assert.StartsWith("cmpl-", (string)body["id"]!);
        Assert.Equal(expectedText, (string?)body["choices"]![0]!["text"]);
        Assert.Equal(ids.Length, (int)body["usage"]!["prompt_tokens"]!);
        (status, body, _) = await kit.PostAsync("/v1/completions", $$"""{"prompt":[{{string.Join(",", ids)}}],"max_tokens":8,"temperature":0,"seed":3}""");
        Assert.Equal(200, status);
        Assert.Equal(expectedText, (string?)body!["choices"]![0]!["text"]);
        (status, _, text) = await kit.PostAsync("/v1/completions", """{"prompt":["Once upon a time"],"max_tokens":8,"temperature":0,"stream":true}""");
        Assert.Equal(200, status);
        (events, done) = ServerTestKit.ParseSse(text);
        Assert.True(done);
        Assert.Equal(expectedText, string.Concat(events.Select(e => (string?)e["choices"]![0]!["text"])));
        Assert.NotNull((string?)events[^1]["choices"]![0]!["finish_reason"]);
        Assert.All(events, e => Assert.False(e.AsObject().ContainsKey("usage")));

        // A client's stop string ends the text before it.
        if (expectedText.Length > 3)
        {
            string stop = expectedText.Substring(2, 2);
            (_, body, _) = await kit.PostAsync("/v1/completions",
                $$"""{"prompt":"Once upon a time","max_tokens":8,"temperature":0,"stop":[{{JsonValue.Create(stop).ToJsonString()}}]}""");
            Assert.Equal(expectedText[..expectedText.IndexOf(stop, StringComparison.Ordinal)], (string?)body!["choices"]![0]!["text"]);
            Assert.Equal("stop", (string?)body["choices"]![0]!["finish_reason"]);
        }

        // Sampling with a seed repeats itself.
        const string sampled = """{"prompt":"Once upon a time","max_tokens":8,"temperature":1.5,"top_k":40,"top_p":0.95,"seed":123}""";
        var a = await kit.PostAsync("/v1/completions", sampled);
        var b = await kit.PostAsync("/v1/completions", sampled);
        Assert.Equal((string?)a.Body!["choices"]![0]!["text"], (string?)b.Body!["choices"]![0]!["text"]);
    }

    [SkippableFact]
    public async Task HealthTokenizeAndDetokenizeSpeakLlamaServer()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 3, ContextLength = 128 });
        var (status, health) = await kit.GetAsync("/health");
        Assert.Equal(200, status);
        Assert.Equal("ok", (string?)health!["status"]);
        Assert.Equal(3, (int)health["slots_idle"]!);
        Assert.Equal(0, (int)health["slots_processing"]!);

        var (s, body, _) = await kit.PostAsync("/tokenize", """{"content":"Hello world<|end|>"}""");
        Assert.Equal(200, s);
        var expected = kit.Tokenizer.Encode("Hello world<|end|>", addBos: false, addEos: false, parseSpecial: true);
        Assert.Equal(expected, body!["tokens"]!.AsArray().Select(t => (int)t!).ToArray());
        (_, body, _) = await kit.PostAsync("/tokenize", """{"content":"Hello","add_special":true,"parse_special":false,"with_pieces":true}""");
        var pieces = body!["tokens"]!.AsArray();
        Assert.Equal(kit.Tokenizer.Vocabulary.BosId, (int)pieces[0]!["id"]!);
        Assert.Equal("<s>", (string?)pieces[0]!["piece"]);
        Assert.Equal(" Hello", (string?)pieces[1]!["piece"]);

        (s, body, _) = await kit.PostAsync("/detokenize", $$"""{"tokens":[{{string.Join(",", expected)}}]}""");
        Assert.Equal(200, s);
        Assert.Equal("Hello world", (string?)body!["content"]);
    }

    [SkippableFact]
    public async Task TruncateDropsTheOldestMessagesOnlyWhenAsked()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 1, ContextLength = 96 });
        var turns = new List<string> { """{"role":"system","content":"You are terse."}""" };
        for (int i = 0; i < 12; i++)
            turns.Add($$"""{"role":"{{(i % 2 == 0 ? "user" : "assistant")}}","content":"message number {{i}} says something long enough"}""");
        turns.Add("""{"role":"user","content":"last question"}""");
        string messages = "[" + string.Join(",", turns) + "]";

        var (status, body, _) = await kit.PostAsync("/v1/chat/completions", $$"""{"messages":{{messages}},"max_tokens":8,"temperature":0}""");
        Assert.Equal(400, status);
        var error = ServerTestKit.AssertError(body, "context_length_exceeded");
        Assert.Equal("messages", (string?)error["param"]);
        Assert.Contains("96", (string)error["message"]!);

        (status, body, _) = await kit.PostAsync("/v1/chat/completions", $$"""{"messages":{{messages}},"max_tokens":8,"temperature":0,"truncate":true}""");
        Assert.Equal(200, status);
        int prompt = (int)body!["usage"]!["prompt_tokens"]!;
        Assert.True(prompt + 8 <= 96);
        // The fewest oldest messages were dropped: with one more kept it would not fit.
        var kept = Enumerable.Range(0, 12).Select(i => new Elongate.Tokenization.ChatTurn(i % 2 == 0 ? "user" : "assistant", $"message number {i} says something long enough")).ToList();
        int dropped = Enumerable.Range(0, 13).First(k => kit.Host.TokenizeChat(
            [new("system", "You are terse."), .. kept.Skip(k), new("user", "last question")]).Length + 8 <= 96);
        var expectedPrompt = kit.Host.TokenizeChat([new("system", "You are terse."), .. kept.Skip(dropped), new("user", "last question")]);
        Assert.Equal(expectedPrompt.Length, prompt);
        Assert.Equal(kit.Greedy(expectedPrompt, 8, kit.Host.Template!.EndOfTurnMarkers), (string?)body["choices"]![0]!["message"]!["content"]);

        // One message that alone is too long cannot be truncated to fit.
        (status, body, _) = await kit.PostAsync("/v1/chat/completions",
            $$"""{"messages":[{"role":"user","content":"{{string.Join(' ', Enumerable.Repeat("word", 200))}}"}],"truncate":true}""");
        Assert.Equal(400, status);
        ServerTestKit.AssertError(body, "context_length_exceeded");
    }

    [SkippableFact]
    public async Task EveryErrorHasItsStatusAndAnOpenAiErrorBody()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 1, ContextLength = 64 },
            new OpenAiServerOptions { MaxRequestBodyBytes = 64 << 10 });
        const string chat = "/v1/chat/completions";
        string longText = string.Join(' ', Enumerable.Repeat("word", 100));
        (string Path, string Body, int Status, string? Code, string? Param)[] cases =
        [
            (chat, "{", 400, null, null),
            (chat, "", 400, null, null),
            (chat, "[1,2]", 400, null, null),
            (chat, "{}", 400, null, "messages"),
            (chat, """{"messages":[]}""", 400, null, "messages"),
            (chat, """{"messages":"hi"}""", 400, null, "messages"),
            (chat, """{"messages":[{"role":"user"}]}""", 400, null, "messages[0].content"),
            (chat, """{"messages":[{"content":"x"}]}""", 400, null, "messages[0].role"),
            (chat, """{"messages":[{"role":"wizard","content":"x"}]}""", 400, null, "messages"),
            (chat, """{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", 400, "unsupported_parameter", "messages[0].content[0].type"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":"5"}""", 400, null, "max_tokens"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":0}""", 400, null, "max_tokens"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":1e400}""", 400, null, null),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":65}""", 400, "max_tokens_exceeded", "max_tokens"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":100000}""", 400, "max_tokens_exceeded", "max_tokens"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", 400, null, "temperature"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"temperature":3}""", 400, null, "temperature"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"top_p":-1}""", 400, null, "top_p"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"seed":1.5}""", 400, null, "seed"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"stop":5}""", 400, null, "stop"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"stream":"yes"}""", 400, null, "stream"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"n":2}""", 400, null, "n"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"frequency_penalty":0.5}""", 400, "unsupported_parameter", "frequency_penalty"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""", 400, "unsupported_parameter", "tools"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"model":"gpt-4o"}""", 404, "model_not_found", "model"),
            (chat, $$"""{"messages":[{"role":"user","content":"{{longText}}"}],"max_tokens":4}""", 400, "context_length_exceeded", "messages"),
            (chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":60}""", 400, "context_length_exceeded", "messages"),
            (chat, $$"""{"messages":[{"role":"user","content":"{{longText}}"}],"max_tokens":4,"stream":true}""", 400, "context_length_exceeded", "messages"),
            ("/v1/completions", """{"max_tokens":4}""", 400, null, "prompt"),
            ("/v1/completions", """{"prompt":[1,2,99999999]}""", 400, null, null),
            ("/v1/completions", """{"prompt":{"text":"x"}}""", 400, null, "prompt"),
            ("/v1/completions", """{"prompt":"x","echo":true,"stream":true}""", 400, "unsupported_parameter", "echo"),
            ("/v1/completions", """{"prompt":"x","logprobs":2,"stream":true}""", 400, "unsupported_parameter", "logprobs"),
            ("/v1/completions", """{"prompt":"x","logprobs":6}""", 400, null, "logprobs"),
            ("/v1/completions", """{"prompt":"x","logprobs":true}""", 400, null, "logprobs"),
            ("/v1/completions", """{"prompt":"x","echo":"yes"}""", 400, null, "echo"),
            ("/v1/completions", """{"prompt":"x","max_tokens":0}""", 400, null, "max_tokens"),
            ("/v1/completions", $$"""{"prompt":"{{longText}}","max_tokens":4}""", 400, "context_length_exceeded", "prompt"),
            ("/v1/completions", """{"prompt":"x","model":"other"}""", 404, "model_not_found", "model"),
            ("/tokenize", """{"content":5}""", 400, null, "content"),
            ("/detokenize", """{"tokens":[-1]}""", 400, null, "tokens"),
            ("/detokenize", """{"tokens":"1 2"}""", 400, null, "tokens"),
            ("/v1/embeddings", """{"input":"x"}""", 404, "unknown_url", null),
            (chat, new string(' ', 70 << 10) + "{}", 413, "request_too_large", null),
        ];
        foreach (var (path, body, status, code, param) in cases)
        {
            var (s, json, text) = await kit.PostAsync(path, body);
            Assert.True(status == s, $"{path} {Trim(body)}: expected {status}, got {s}: {text}");
            var error = ServerTestKit.AssertError(json, code);
            if (param is not null) Assert.Equal(param, (string?)error["param"]);
        }
        // The counts are in the message.
        var (_, overflow, _) = await kit.PostAsync(chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":60}""");
        var message = (string)overflow!["error"]!["message"]!;
        Assert.Contains("64", message);
        Assert.Contains("60", message);
        // Wrong method: 405 with an error body.
        var (get, getBody) = await kit.GetAsync(chat);
        Assert.Equal(405, get);
        ServerTestKit.AssertError(getBody);
        // The server still answers.
        var (ok, _, _) = await kit.PostAsync(chat, """{"messages":[{"role":"user","content":"x"}],"max_tokens":2}""");
        Assert.Equal(200, ok);
    }

    [SkippableFact]
    public async Task ApiKeyIsRequiredWhenConfigured()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 1, ContextLength = 64 },
            new OpenAiServerOptions { ApiKey = "s3cret-key" });
        const string body = """{"messages":[{"role":"user","content":"x"}],"max_tokens":2,"temperature":0}""";
        foreach (var key in new string?[] { null, "wrong", "s3cret-ke", "s3cret-key2", "" })
        {
            var (status, json, _) = await kit.PostAsync("/v1/chat/completions", body, key);
            Assert.Equal(401, status);
            ServerTestKit.AssertError(json, "invalid_api_key");
        }
        var (ok, _, _) = await kit.PostAsync("/v1/chat/completions", body, "s3cret-key");
        Assert.Equal(200, ok);
        Assert.Equal(401, (await kit.GetAsync("/v1/models")).Status);
        Assert.Equal(200, (await kit.GetAsync("/health")).Status);
        // The official client with the key works; with another it fails.
        var r = await kit.ChatClient("s3cret-key").GetResponseAsync([new ChatMessage(ChatRole.User, "x")], new ChatOptions { MaxOutputTokens = 2, Temperature = 0 });
        Assert.Equal(2, r.Usage!.OutputTokenCount ?? 2);
        await Assert.ThrowsAnyAsync<Exception>(() => kit.ChatClient("nope").GetResponseAsync([new ChatMessage(ChatRole.User, "x")]));
    }

    [SkippableFact]
    public async Task FullQueueIs503AndAClientThatDisconnectsFreesItsSlot()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.TheModel(16384), new ModelHostOptions { Slots = 1, ContextLength = 16384, QueueLimit = 0 });
        // A long stream holds the only slot. The client is a bare socket, so that closing it is a real disconnect
        // (HttpClient would first drain the response for up to 2 s to reuse the connection).
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(kit.Server.BaseAddress.Host, kit.Server.BaseAddress.Port);
        var net = socket.GetStream();
        const string json = """{"messages":[{"role":"user","content":"Go on forever"}],"max_tokens":16000,"temperature":0,"stream":true}""";
        await net.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: {kit.Server.BaseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\n\r\n{json}"));
        var reader = new StreamReader(net);
        Assert.Equal("HTTP/1.1 200 OK", await reader.ReadLineAsync());
        int chunks = 0;
        bool eventStream = false;
        while (chunks < 5 && await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("Content-Type: text/event-stream", StringComparison.OrdinalIgnoreCase)) eventStream = true;
            if (line.Contains("data: ", StringComparison.Ordinal)) chunks++;
        }
        Assert.True(eventStream);
        Assert.Equal(1, kit.Host.Busy);

        // Every slot busy and no queue: 503 with an error body and Retry-After.
        var (status, body, _) = await kit.PostAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"max_tokens":2}""");
        Assert.Equal(503, status);
        ServerTestKit.AssertError(body, "server_busy");
        var (_, health) = await kit.GetAsync("/health");
        Assert.Equal(1, (int)health!["slots_processing"]!);

        // The client walks away mid-stream: the generation stops and the slot is free again within a moment
        // (running to max_tokens would take many seconds).
        var left = System.Diagnostics.Stopwatch.StartNew();
        socket.Close();
        while (kit.Host.Busy > 0 && left.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(5);
        Assert.Equal(0, kit.Host.Busy);
        var freedAfter = left.Elapsed;
        var (s, after, _) = await kit.PostAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"max_tokens":3,"temperature":0}""");
        Assert.Equal(200, s);
        Assert.Equal(" the the the", (string?)after!["choices"]![0]!["message"]!["content"]);

        // How long the whole generation would have taken: 16000 tokens at the speed measured now.
        var timing = System.Diagnostics.Stopwatch.StartNew();
        var (_, measured, _) = await kit.PostAsync("/v1/completions", """{"prompt":"x","max_tokens":1000,"temperature":0}""");
        Assert.Equal(1000, (int)measured!["usage"]!["completion_tokens"]!);
        var full = timing.Elapsed * 16;
        output.WriteLine($"slot freed {freedAfter.TotalMilliseconds:F0} ms after the disconnect; 1000 tokens took {timing.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(freedAfter < full / 4, $"slot freed {freedAfter.TotalMilliseconds:F0} ms after the disconnect; the full generation takes ~{full.TotalMilliseconds:F0} ms");
    }

    private static string Trim(string s) => s.Length <= 120 ? s : s[..120] + "…";
}

/// <summary>Server tests run one at a time: the throughput numbers and the fuzz's timing mean more that way.</summary>
[CollectionDefinition(Name)]
public class ServingCollection
{
    public const string Name = "OpenAI server";
}
