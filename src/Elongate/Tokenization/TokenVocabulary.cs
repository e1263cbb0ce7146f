namespace Elongate.Tokenization;

/// <summary>
/// A SentencePiece vocabulary as every source describes it (tokenizer.model, GGUF tokenizer.ggml.*, llama2.c
/// tokenizer.bin): pieces with their scores and types, plus the special ids. Pieces keep SentencePiece's "▁" (U+2581)
/// for a space.
/// </summary>
public sealed record TokenVocabulary
{
    public required string[] Pieces { get; init; }
    public required float[] Scores { get; init; }
    public required TokenType[] Types { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    public int UnkId { get; init; } = 0;
    /// <summary>Whether encoding adds BOS by default (GGUF tokenizer.ggml.add_bos_token).</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>Whether encoding adds EOS by default (GGUF tokenizer.ggml.add_eos_token).</summary>
    public bool AddEos { get; init; }

    public int Count => Pieces.Length;
}
