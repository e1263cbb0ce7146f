namespace Elongate.Data;

/// <summary>
/// The three prompts of <see cref="SelfInstructor"/>: one asking for a question with a short answer, one asking for a
/// question with a long answer, and the self-check. Placeholders: <c>{chunk}</c> in all three, <c>{question}</c> and
/// <c>{answer}</c> in the self-check. A folder given with <c>--prompts DIR</c> replaces any of them by a file of the same
/// name (<see cref="ShortFile"/>, <see cref="LongFile"/>, <see cref="CheckFile"/>).
/// </summary>
public sealed record SelfInstructPrompts
{
    /// <summary>File name of the short-answer prompt in a prompts folder.</summary>
    public const string ShortFile = "short.txt";

    /// <summary>File name of the long-answer prompt in a prompts folder.</summary>
    public const string LongFile = "long.txt";

    /// <summary>File name of the self-check prompt in a prompts folder.</summary>
    public const string CheckFile = "check.txt";

    /// <summary>The default short-answer prompt.</summary>
    public const string DefaultShort =
        "Read the following passage from a longer document.\n\n<passage>\n{chunk}\n</passage>\n\n" +
        "Write one question that can be answered only from this passage, and its answer: a few words or one short sentence, taken from the passage. " +
        "Reply with a single JSON object and nothing else: {\"question\": \"...\", \"answer\": \"...\"}";

    /// <summary>The default long-answer prompt.</summary>
    public const string DefaultLong =
        "Read the following passage from a longer document.\n\n<passage>\n{chunk}\n</passage>\n\n" +
        "Write one question about this passage that needs a detailed answer (several sentences: an explanation, a summary or a comparison), and that answer, " +
        "using only what the passage says. Reply with a single JSON object and nothing else: {\"question\": \"...\", \"answer\": \"...\"}";

    /// <summary>The default self-check prompt.</summary>
    public const string DefaultCheck =
        "Here is a passage, a question about it and a proposed answer.\n\n<passage>\n{chunk}\n</passage>\n\n" +
        "Question: {question}\nAnswer: {answer}\n\n" +
        "Is the answer correct and fully supported by the passage? Reply with one word: yes or no.";

    /// <summary>Prompt asking for a question with a short answer.</summary>
    public string Short { get; init; } = DefaultShort;

    /// <summary>Prompt asking for a question with a long answer.</summary>
    public string Long { get; init; } = DefaultLong;

    /// <summary>Prompt asking whether an answer is supported by the chunk.</summary>
    public string Check { get; init; } = DefaultCheck;

    /// <summary>The defaults, with any of <see cref="ShortFile"/>, <see cref="LongFile"/>, <see cref="CheckFile"/> found in <paramref name="directory"/> read instead.</summary>
    /// <exception cref="ArgumentException">The folder does not exist, or a prompt lacks its placeholders.</exception>
    public static SelfInstructPrompts Load(string? directory)
    {
        var prompts = new SelfInstructPrompts();
        if (directory is null) return prompts;
        if (!Directory.Exists(directory)) throw new ArgumentException($"--prompts: folder {directory} does not exist");
        string Read(string name, string fallback)
        {
            var path = Path.Combine(directory, name);
            return File.Exists(path) ? File.ReadAllText(path) : fallback;
        }
        prompts = new SelfInstructPrompts { Short = Read(ShortFile, DefaultShort), Long = Read(LongFile, DefaultLong), Check = Read(CheckFile, DefaultCheck) };
        prompts.Validate();
        return prompts;
    }

    /// <summary>Checks that each prompt has the placeholders it needs.</summary>
    /// <exception cref="ArgumentException">A placeholder is missing.</exception>
    public void Validate()
    {
        foreach (var (name, text) in new[] { (ShortFile, Short), (LongFile, Long), (CheckFile, Check) })
            if (!text.Contains("{chunk}", StringComparison.Ordinal)) throw new ArgumentException($"prompt {name} has no {{chunk}} placeholder");
        if (!Check.Contains("{question}", StringComparison.Ordinal) || !Check.Contains("{answer}", StringComparison.Ordinal))
            throw new ArgumentException($"prompt {CheckFile} needs {{question}} and {{answer}} placeholders");
    }

    /// <summary>The generation prompt for <paramref name="kind"/> over <paramref name="chunk"/>.</summary>
    public string Generation(SelfInstructKind kind, string chunk) => (kind == SelfInstructKind.Long ? Long : Short).Replace("{chunk}", chunk, StringComparison.Ordinal);

    /// <summary>The self-check prompt.</summary>
    public string SelfCheck(string chunk, string question, string answer) =>
        Check.Replace("{question}", question, StringComparison.Ordinal).Replace("{answer}", answer, StringComparison.Ordinal)
            .Replace("{chunk}", chunk, StringComparison.Ordinal);
}
