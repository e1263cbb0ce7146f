using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Tests.Model;

/// <summary>
/// Multi-turn chat over Phi-3's vocabulary and chat template with tiny models: a random one (cache reuse must give the
/// same reply as recomputing the whole conversation) and "scripted" ones whose every prediction is one chosen token.
/// </summary>
public class ChatSessionTests
{
    private static LlamaConfig Config(int vocab, int context = 512) => ScriptedModels.Config(vocab, context);

    private static LlamaModel Random(LlamaConfig c, int seed) => ScriptedModels.Random(c, seed);

    private static LlamaModel Scripted(LlamaConfig c, int token) => ScriptedModels.Scripted(c, token);

    private static ITokenizer Phi3() => ScriptedModels.Phi3();

    [SkippableFact]
    public void ReusingTheCacheGivesTheSameReplyAsRecomputing()
    {
        var tok = Phi3();
        var template = ChatTemplate.Resolve(null, tok.Vocabulary.ChatTemplate, "phi-3");
        Assert.Equal("phi3", template.Name);
        using var model = Random(Config(tok.Vocabulary.Count), seed: 5);
        var chat = new ChatSession(new InferenceSession(model), tok, template);
        var greedy = new Sampler(SamplingOptions.Greedy);

        var first = chat.Respond("Hello there", 6, greedy);
        var second = chat.Respond("And again", 6, greedy);
        Assert.Equal(4, chat.Messages.Count);
        Assert.True(second.ReusedTokens >= first.PromptTokens - 2, $"reused {second.ReusedTokens} of a {first.PromptTokens}-token first prompt");

        // The same conversation rendered and computed from scratch.
        var rendered = template.Apply([new("user", "Hello there"), new("assistant", first.Text), new("user", "And again")], addAssistantPrompt: true);
        var ids = tok.Encode(rendered, addBos: true, addEos: false, parseSpecial: true);
        var fresh = new InferenceSession(model);
        var decoder = new StreamingDecoder(tok);
        var text = "";
        TextGenerator.Generate(fresh, ids, 6, greedy, id => { text += decoder.Push(id); return true; }, tok.Vocabulary.EndOfGenerationIds(), default);
        text += decoder.Flush();
        Assert.Equal(text, second.Text);
    }

    [SkippableFact]
    public void StopsAtTheEndOfTurnToken()
    {
        var tok = Phi3();
        int end = Array.IndexOf(tok.Vocabulary.Pieces, "<|end|>");
        using var model = Scripted(Config(tok.Vocabulary.Count), end);
        var chat = new ChatSession(new InferenceSession(model), tok, ChatTemplate.FromName("phi3"), systemPrompt: "Be brief.");
        var reply = chat.Respond("Hi", 10, new Sampler(SamplingOptions.Greedy));
        Assert.Equal("", reply.Text);
        Assert.Equal(StopReason.Stop, reply.FinishReason);
        Assert.Equal(0, reply.Stats.GeneratedTokens);
        Assert.Equal(["system", "user", "assistant"], chat.Messages.Select(m => m.Role));
    }

    [SkippableFact]
    public void RunsOutOfBudgetThenDropsOldTurnsWhenTheContextFills()
    {
        var tok = Phi3();
        int the = Array.IndexOf(tok.Vocabulary.Pieces, "\u2581the");
        using var model = Scripted(Config(tok.Vocabulary.Count, context: 96), the);
        var chat = new ChatSession(new InferenceSession(model, 96), tok, ChatTemplate.FromName("phi3"), systemPrompt: "Sys");
        var streamed = "";
        var reply = chat.Respond("Hi", 5, new Sampler(SamplingOptions.Greedy), t => streamed += t);
        Assert.Equal(StopReason.Length, reply.FinishReason);
        Assert.Equal(" the the the the the", reply.Text);
        Assert.Equal(reply.Text, streamed);
        for (int turn = 0; turn < 8; turn++) chat.Respond("Tell me more about it please", 5, new Sampler(SamplingOptions.Greedy));
        // Old turns went; the system message and the latest exchange stayed.
        Assert.Equal("system", chat.Messages[0].Role);
        Assert.True(chat.Messages.Count < 2 + 2 * 9, $"{chat.Messages.Count} messages kept in a 96-token context");
        Assert.Equal("Tell me more about it please", chat.Messages[^2].Content);

        chat.Reset();
        Assert.Equal(["system"], chat.Messages.Select(m => m.Role));
        var tooLong = string.Join(' ', Enumerable.Repeat("word", 200));
        Assert.Throws<ArgumentException>(() => chat.Respond(tooLong, 5, new Sampler(SamplingOptions.Greedy)));
        Assert.Single(chat.Messages); // the rejected message is not kept
    }

    [Fact]
    public void StopStringsAreHeldBackAndCut()
    {
        var f = new StopStringFilter(["<|end|>", "\n\nUser:"]);
        Assert.Equal(("Hello", false), f.Push("Hello"));
        Assert.Equal((" wor", false), f.Push(" wor<"));    // "<" may start "<|end|>"
        Assert.Equal(("", false), f.Push("|en"));
        Assert.Equal(("<|enx", false), f.Push("x"));       // it did not
        Assert.Equal(("!", true), f.Push("!<|end|> trailing"));
        Assert.Equal("Hello wor<|enx!", f.Text);
        Assert.Equal(("", true), f.Push("more"));

        var g = new StopStringFilter(["\n\nUser:"]);
        Assert.Equal(("a", false), g.Push("a\n"));
        Assert.Equal("\n", g.Flush());
        Assert.Equal("a\n", g.Text);
    }
}
