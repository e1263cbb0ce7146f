namespace Elongate.Tokenization;

/// <summary>
/// A vocabulary as every source describes it (tokenizer.model, GGUF tokenizer.ggml.*, llama2.c tokenizer.bin,
/// Hugging Face tokenizer.json): pieces with their scores and types, the special ids and flags, and for byte-level BPE
/// the ranked merges and the pre-tokenizer's name. SentencePiece pieces keep "▁" (U+2581) for a space; byte-level BPE
/// pieces are spelled in GPT-2's byte-to-character mapping (<see cref="ByteLevel"/>), e.g. "Ġthe" for " the".
/// </summary>
public sealed record TokenVocabulary
{
    public required string[] Pieces { get; init; }
    public required float[] Scores { get; init; }
    public required TokenType[] Types { get; init; }

    /// <summary>Which algorithm encodes with these pieces.</summary>
    public VocabularyKind Kind { get; init; } = VocabularyKind.SentencePiece;

    /// <summary>Byte-level BPE merges, best (lowest rank) first, each "left right" as in GGUF tokenizer.ggml.merges; null for SentencePiece.</summary>
    public string[]? Merges { get; init; }

    /// <summary>Byte-level BPE pre-tokenizer name (GGUF tokenizer.ggml.pre, llama.cpp's names: "llama-bpe", "gpt-2", "deepseek-llm"…).</summary>
    public string? PreTokenizer { get; init; }

    /// <summary>Beginning-of-sequence id; -1 when the vocabulary has none.</summary>
    public int BosId { get; init; } = 1;
    /// <summary>End-of-sequence id; -1 when the vocabulary has none.</summary>
    public int EosId { get; init; } = 2;
    /// <summary>Unknown-piece id; -1 when the vocabulary has none (byte-level BPE never needs one).</summary>
    public int UnkId { get; init; } = 0;
    /// <summary>End-of-turn id (GGUF tokenizer.ggml.eot_token_id, e.g. Llama 3's &lt;|eot_id|&gt;); -1 when not given.</summary>
    public int EotId { get; init; } = -1;
    /// <summary>End-of-message id (GGUF tokenizer.ggml.eom_token_id, Llama 3.1's &lt;|eom_id|&gt;); -1 when not given.</summary>
    public int EomId { get; init; } = -1;
    /// <summary>Padding id (GGUF tokenizer.ggml.padding_token_id); -1 when not given.</summary>
    public int PadId { get; init; } = -1;
    /// <summary>Whether encoding adds BOS by default (GGUF tokenizer.ggml.add_bos_token).</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>Whether encoding adds EOS by default (GGUF tokenizer.ggml.add_eos_token).</summary>
    public bool AddEos { get; init; }

    /// <summary>Per id, the whitespace a special token swallows when cut out of text; null when none does.</summary>
    public TokenStrip[]? Strip { get; init; }

    /// <summary>The model's Jinja chat template (GGUF tokenizer.chat_template, tokenizer_config.json chat_template), if any.</summary>
    public string? ChatTemplate { get; init; }

    public int Count => Pieces.Length;

    /// <summary>The ids of the normal pieces (no control, byte, unknown, unused or user-defined ids), ascending.</summary>
    public int[] NormalIds() => Enumerable.Range(0, Count).Where(i => Types[i] == TokenType.Normal).ToArray();

    /// <summary>
    /// Pieces whose text marks the end of a turn in the chat formats llama.cpp knows; llama.cpp stops generation at
    /// any of them whatever their type, because converters often forget to name them (its llama-vocab.cpp keeps the
    /// same list), and makes them control tokens, which <see cref="Formats.GgufVocabularyReader"/> does too: Phi-3's
    /// file types "&lt;/s&gt;" UserDefined, yet llama.cpp treats it as control text (not cut out of plain text).
    /// </summary>
    public static IReadOnlyList<string> EndOfGenerationPieces { get; } =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
        "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>", "</s>",
    ];

    /// <summary>
    /// Every id that ends generation: EOS, EOT and EOM when set, and every piece spelled as one of
    /// <see cref="EndOfGenerationPieces"/> (llama.cpp marks those control tokens whatever type the file gives them).
    /// Computed on each call: callers keep the result.
    /// </summary>
    public int[] EndOfGenerationIds()
    {
        var ids = new SortedSet<int>();
        foreach (var id in new[] { EosId, EotId, EomId })
            if ((uint)id < (uint)Count) ids.Add(id);
        var names = new HashSet<string>(EndOfGenerationPieces, StringComparer.Ordinal);
        for (int i = 0; i < Count; i++)
            if (names.Contains(Pieces[i])) ids.Add(i);
        return [.. ids];
    }
}
