using Elongate.Common;
using Elongate.Model;
using Elongate.Serving;
using Elongate.Tests.Model;
using Microsoft.Extensions.AI;

namespace Elongate.Tests.Serving;

/// <summary>The in-process IChatClient over tiny models with Phi-3's vocabulary and chat template.</summary>
public class LocalChatClientTests
{
    [SkippableFact]
    public async Task RespondsStreamsAndCountsUsage()
    {
        var tok = ScriptedModels.Phi3();
        int the = Array.IndexOf(tok.Vocabulary.Pieces, "\u2581the");
        using var model = ScriptedModels.Scripted(ScriptedModels.Config(tok.Vocabulary.Count), the);
        using var host = new ModelHost(model, tok, new ModelHostOptions { Slots = 1, ContextLength = 256 });
        IChatClient client = new LocalChatClient(host);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 4 });
        Assert.Equal(" the the the the", response.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(4, response.Usage!.OutputTokenCount);
        var expectedPrompt = host.TokenizeChat([new("user", "Hi")]).Length;
        Assert.Equal(expectedPrompt, response.Usage.InputTokenCount);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 4 }))
            updates.Add(u);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, updates[^1].FinishReason);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(4, usage.Details.OutputTokenCount);
        // The same prompt again: the slot's cache holds all of it but the last token.
        Assert.Equal(expectedPrompt - 1, usage.Details.CachedInputTokenCount);

        var meta = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("elongate", meta.ProviderName);
    }

    [SkippableFact]
    public async Task StopSequencesAndEndOfTurnEndTheReply()
    {
        var tok = ScriptedModels.Phi3();
        int end = Array.IndexOf(tok.Vocabulary.Pieces, "<|end|>");
        using var model = ScriptedModels.Scripted(ScriptedModels.Config(tok.Vocabulary.Count), end);
        using var host = new ModelHost(model, tok, new ModelHostOptions { ContextLength = 128 });
        var client = new LocalChatClient(host);
        var r = await client.GetResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Hi")]);
        Assert.Equal("", r.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Stop, r.FinishReason);

        int the = Array.IndexOf(tok.Vocabulary.Pieces, "\u2581the");
        using var model2 = ScriptedModels.Scripted(ScriptedModels.Config(tok.Vocabulary.Count), the);
        using var host2 = new ModelHost(model2, tok, new ModelHostOptions { ContextLength = 128 });
        var r2 = await new LocalChatClient(host2).GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")],
            new ChatOptions { MaxOutputTokens = 20, StopSequences = ["the the"] });
        Assert.Equal(" ", r2.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Stop, r2.FinishReason);
    }

    [SkippableFact]
    public async Task CancellationStopsPromptlyAndFreesTheSlot()
    {
        var tok = ScriptedModels.Phi3();
        int the = Array.IndexOf(tok.Vocabulary.Pieces, "\u2581the");
        using var model = ScriptedModels.Scripted(ScriptedModels.Config(tok.Vocabulary.Count, context: 4096), the);
        using var host = new ModelHost(model, tok, new ModelHostOptions { Slots = 1, ContextLength = 4096, QueueLimit = 0 });
        var client = new LocalChatClient(host);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 4000 }, cts.Token)
            .WithCancellation(CancellationToken.None))
        {
            if (++seen == 3) break; // the consumer walks away
        }
        // The slot is released promptly: a new request (with no queue allowed) gets it.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (host.Busy > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, host.Busy);
        var r = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 2 });
        Assert.Equal(" the the", r.Text);
    }

    [SkippableFact]
    public async Task TooLongPromptsAndBusySlotsAreTypedErrors()
    {
        var tok = ScriptedModels.Phi3();
        int the = Array.IndexOf(tok.Vocabulary.Pieces, "\u2581the");
        using var model = ScriptedModels.Scripted(ScriptedModels.Config(tok.Vocabulary.Count, context: 64), the);
        using var host = new ModelHost(model, tok, new ModelHostOptions { Slots = 1, ContextLength = 64, QueueLimit = 0 });
        var client = new LocalChatClient(host);
        var e = await Assert.ThrowsAsync<ContextOverflowException>(() =>
            client.GetResponseAsync([new ChatMessage(ChatRole.User, string.Join(' ', Enumerable.Repeat("word", 100)))]));
        Assert.Equal(64, e.ContextLength);
        Assert.True(e.PromptTokens > 64);

        // One long generation holds the only slot; with no queue a second request is refused at once.
        using var cts = new CancellationTokenSource();
        var first = host.GenerateAsync(new GenerationRequest { PromptTokens = host.TokenizePrompt("Hi"), MaxTokens = 50 }, _ => Thread.Sleep(5), cts.Token);
        while (host.Busy == 0) await Task.Delay(1);
        await Assert.ThrowsAsync<ServerBusyException>(() => host.GenerateAsync(new GenerationRequest { PromptTokens = host.TokenizePrompt("Hi"), MaxTokens = 1 }));
        var done = await first;
        Assert.Equal(50, done.CompletionTokens);
    }
}
