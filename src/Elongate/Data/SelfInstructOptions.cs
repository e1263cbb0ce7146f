using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>What <see cref="SelfInstructor"/> reads, asks and writes.</summary>
public sealed record SelfInstructOptions
{
    /// <summary>Documents: .txt files (one document each) or folders of them.</summary>
    public required IReadOnlyList<string> Documents { get; init; }

    /// <summary>File names (or paths) of documents never to use, e.g. evaluation sets.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>The chat-format JSON Lines output, appended to; rejected items go to <see cref="SelfInstructor.RejectedPathFor"/>.</summary>
    public required string OutputPath { get; init; }

    /// <summary>The student's tokenizer: chunks, truncation and lengths are measured in its tokens.</summary>
    public required ITokenizer Tokenizer { get; init; }

    /// <summary>Tokens per chunk shown to the teacher.</summary>
    public int ChunkTokens { get; init; } = 512;

    /// <summary>Chunks drawn per document; each gives one pair of each kind in <see cref="Kinds"/>.</summary>
    public int PairsPerDocument { get; init; } = 1;

    /// <summary>Tokens of a whole training example (document + question + answer + chat template).</summary>
    public int MaxContext { get; init; } = 16384;

    /// <summary>Tokens left for the chat template's markup around the document, question and answer.</summary>
    public int TemplateMargin { get; init; } = 64;

    /// <summary>The kinds of answer asked for.</summary>
    public IReadOnlyList<SelfInstructKind> Kinds { get; init; } = [SelfInstructKind.Short, SelfInstructKind.Long];

    /// <summary>The default of <see cref="MaxShortAnswerTokens"/>: a sentence or two.</summary>
    public const int DefaultMaxShortAnswerTokens = 96;

    /// <summary>The default of <see cref="MaxLongAnswerTokens"/>: several paragraphs.</summary>
    public const int DefaultMaxLongAnswerTokens = 1024;

    /// <summary>Longest short answer kept, in student tokens (--max-short-answer-tokens).</summary>
    public int MaxShortAnswerTokens { get; init; } = DefaultMaxShortAnswerTokens;

    /// <summary>Longest long answer kept, in student tokens (--max-long-answer-tokens).</summary>
    public int MaxLongAnswerTokens { get; init; } = DefaultMaxLongAnswerTokens;

    /// <summary>Teacher requests in flight at once.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Seed of chunk positions, truncation windows and teacher sampling (each work item derives its own).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The prompts.</summary>
    public SelfInstructPrompts Prompts { get; init; } = new();

    /// <summary>Retries of a teacher call after a transient failure (429, 5xx, timeout, connection error).</summary>
    public int Retries { get; init; } = 4;

    /// <summary>Wait before the first retry; doubled each time.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Sampling temperature of the generation requests.</summary>
    public float Temperature { get; init; } = 0.7f;

    /// <summary>
    /// Jaccard similarity of word 3-gram sets (normalized text) at or above which a question counts as a near-duplicate of
    /// one already kept and is rejected; exact repeats (once normalized) are always rejected. Default
    /// <see cref="QuestionDeduplicator.DefaultThreshold"/> (0.6); 1 keeps all but identical shingle sets.
    /// </summary>
    public double NearDuplicateThreshold { get; init; } = QuestionDeduplicator.DefaultThreshold;

    /// <summary>Ask for JSON output (response_format json_object) in generation requests, for endpoints that support it.</summary>
    public bool JsonMode { get; init; }

    /// <summary>A folder of evaluation inputs (.txt, .json, .jsonl) to check the documents against (<see cref="SelfInstructContamination"/>); null: no check.</summary>
    public string? ContaminationDirectory { get; init; }

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (Documents.Count == 0) throw new ArgumentException("give at least one document (--docs)");
        if (ChunkTokens < 8) throw new ArgumentException("--chunk-tokens must be ≥ 8");
        if (PairsPerDocument < 1) throw new ArgumentException("--pairs-per-doc must be ≥ 1");
        if (Kinds.Count == 0) throw new ArgumentException("--answers needs short, long or both");
        if (Concurrency < 1) throw new ArgumentException("--concurrency must be ≥ 1");
        if (!(NearDuplicateThreshold > 0 && NearDuplicateThreshold <= 1)) throw new ArgumentException($"--near-duplicate-threshold must be in (0, 1], got {NearDuplicateThreshold}");
        if (MaxShortAnswerTokens < 1) throw new ArgumentException($"--max-short-answer-tokens must be ≥ 1, got {MaxShortAnswerTokens}");
        if (MaxLongAnswerTokens < 1) throw new ArgumentException($"--max-long-answer-tokens must be ≥ 1, got {MaxLongAnswerTokens}");
        if (Retries < 0) throw new ArgumentException("--retries must be ≥ 0");
        if (MaxContext < ChunkTokens + TemplateMargin + 16)
            throw new ArgumentException($"--max-context {MaxContext} leaves no room for a {ChunkTokens}-token chunk plus a question and an answer");
        Prompts.Validate();
    }
}
