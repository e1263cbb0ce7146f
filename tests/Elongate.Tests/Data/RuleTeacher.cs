using System.Text.RegularExpressions;
using Elongate.Data;
using Microsoft.Extensions.AI;

namespace Elongate.Tests.Data;

/// <summary>
/// A deterministic teacher for self-instruct tests: it answers from the passage by rule. For a generation prompt it
/// picks a whole sentence of the passage (by a stable hash of the passage) and asks what follows its first words; the
/// short answer is that sentence, the long one that sentence and the next. A quarter of the passages (by hash) get a reply
/// that is not JSON, another quarter an answer the passage does not support. The self-check says yes exactly when
/// the answer occurs in the passage (normalized).
/// </summary>
internal sealed partial class RuleTeacher : IChatClient
{
    private int _calls, _badJson, _unsupported, _checks;

    public int Calls => _calls;
    public int BadJson => _badJson;
    public int Unsupported => _unsupported;
    public int Checks => _checks;

    /// <summary>Set to make every call fail with this exception (transient-failure tests).</summary>
    public Func<int, Exception?>? Fail { get; init; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int call = Interlocked.Increment(ref _calls);
        if (Fail?.Invoke(call) is { } failure) throw failure;
        var prompt = string.Concat(messages.Select(m => m.Text));
        var passage = Passage().Match(prompt).Groups[1].Value;
        string reply;
        if (prompt.Contains("yes or no", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _checks);
            var answer = CheckAnswer().Match(prompt).Groups[1].Value.Trim();
            reply = Norm(passage).Contains(Norm(answer), StringComparison.Ordinal) ? "Yes." : "No, the passage does not say that.";
        }
        else reply = Generate(passage, prompt.Contains("detailed", StringComparison.Ordinal));
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, reply)) { Usage = new UsageDetails { OutputTokenCount = reply.Length / 4 } });
    }

    private string Generate(string passage, bool isLong)
    {
        uint h = Hash(passage);
        if (h % 4 == 0)
        {
            Interlocked.Increment(ref _badJson);
            return "I am sorry, but I would rather talk about the weather.";
        }
        var sentences = Sentence().Matches(passage).Select(m => m.Value.Trim()).Where(s => s.Split(' ').Length >= 6).ToList();
        // The first and last sentence may be cut by the chunk edges: prefer inner ones.
        if (sentences.Count > 2) sentences = sentences[1..^1];
        if (sentences.Count == 0) sentences = [passage.Trim()];
        int i = (int)(h / 4 % (uint)sentences.Count);
        var s = sentences[i];
        var words = string.Join(' ', s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(5));
        string question = isLong ? $"Quote the passage from the sentence that begins '{words}'." : $"What sentence begins with '{words}'?";
        string answer = isLong && i + 1 < sentences.Count ? s + " " + sentences[i + 1] : s;
        if (h % 4 == 1)
        {
            Interlocked.Increment(ref _unsupported);
            answer = "The moon is made of green cheese, as every sailor knows.";
        }
        var json = System.Text.Json.JsonSerializer.Serialize(new { question, answer });
        // Vary the wrapping the parser has to see through.
        return (h / 7 % 3) switch
        {
            0 => json,
            1 => "Sure! Here is a pair:\n```json\n" + json + "\n```\nHope this helps.",
            _ => $"Question: {question}\nAnswer: {answer}",
        };
    }

    private static string Norm(string s) => SelfInstructParser.Normalize(s);

    private static uint Hash(string s)
    {
        uint h = 2166136261;
        foreach (var c in s) h = (h ^ c) * 16777619;
        return h;
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }

    [GeneratedRegex(@"<passage>\n(.*)\n</passage>", RegexOptions.Singleline)]
    private static partial Regex Passage();

    [GeneratedRegex(@"\nAnswer: (.*?)\n\nIs the answer", RegexOptions.Singleline)]
    private static partial Regex CheckAnswer();

    [GeneratedRegex(@"[^.!?]+[.!?]")]
    private static partial Regex Sentence();
}
