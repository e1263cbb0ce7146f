using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Elongate.Experiments;

/// <summary>
/// The extractive teacher of the self-instruct miniature (bench's <c>selfinstruct-mini</c>, docs/self-instruct-mini.md)
/// and of <see cref="InputLossExperiment"/>: it answers from the passage by rule, as a chat model that
/// only reads would. A generation prompt whose passage holds a whole planted fact "The password of the ADJ NOUN is
/// VALUE." gets the pair {"question": "What password does the ADJ NOUN have?", "answer": "VALUE"} (or, with
/// <c>sentenceAnswers</c>, the answer "The password of the ADJ NOUN is VALUE.", the fact restated); a passage without
/// one (or with it cut by the chunk's edge) gets a refusal that is not JSON, which the pipeline counts as a parse
/// rejection. The self-check says yes exactly when the passage states that fact.
/// </summary>
/// <remarks>
/// The question names its key in words that sit in the middle of the question's word 3-grams, so two keys that share
/// an adjective or a noun stay below the default near-duplicate threshold (0.43 and 0.25), while two chunks of one
/// document that hold the same fact give the same question: an exact duplicate, rejected.
/// </remarks>
/// <param name="sentenceAnswers">
/// Answer with the fact restated instead of the bare word. For a tiny model this is the learnable form: restating
/// "… is" leads to the value through the same tokens as in the document, so answering is copying the token that
/// followed the same words earlier (an induction step); a bare word at the start of the assistant turn is spelled
/// in other pieces than after a space in the document ("m"+"oon" against "▁moon" with tok512).
/// </param>
public sealed partial class PasswordTeacher(bool sentenceAnswers) : IChatClient
{
    /// <summary>The planted sentence for a key and value.</summary>
    public static string Fact(string key, string value) => $"The password of the {key} is {value}.";

    /// <summary>The question about a key.</summary>
    public static string Question(string key) => $"What password does the {key} have?";

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var prompt = string.Concat(messages.Select(m => m.Text));
        var passage = PassagePattern().Match(prompt) is { Success: true } p ? p.Groups[1].Value : "";
        string reply;
        if (prompt.Contains("yes or no", StringComparison.Ordinal))
        {
            var q = CheckPattern().Match(prompt);
            var key = QuestionPattern().Match(q.Groups[1].Value).Groups[1].Value;
            var answer = q.Groups[2].Value.Trim();
            reply = q.Success && key.Length > 0 && (passage.Contains(Fact(key, answer), StringComparison.Ordinal) || answer.StartsWith("The password of the " + key + " is ", StringComparison.Ordinal) && passage.Contains(answer, StringComparison.Ordinal))
                ? "Yes." : "No.";
        }
        else if (FactPattern().Match(passage) is { Success: true } f)
            reply = JsonSerializer.Serialize(new { question = Question(f.Groups[1].Value), answer = sentenceAnswers ? f.Value : f.Groups[2].Value });
        else
            reply = "This passage states no password, so I cannot write a question about one.";
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, reply)) { Usage = new UsageDetails { OutputTokenCount = (reply.Length + 3) / 4 } });
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the miniature's teacher answers whole replies only");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }

    [GeneratedRegex(@"<passage>\n(.*)\n</passage>", RegexOptions.Singleline)]
    private static partial Regex PassagePattern();

    [GeneratedRegex(@"The password of the (\w+ \w+) is (\w+)\.")]
    private static partial Regex FactPattern();

    [GeneratedRegex(@"\nQuestion: (.*?)\nAnswer: (.*?)\n\nIs the answer", RegexOptions.Singleline)]
    private static partial Regex CheckPattern();

    [GeneratedRegex(@"^What password does the (\w+ \w+) have\?$")]
    private static partial Regex QuestionPattern();
}
