namespace Elongate.Tokenization;

/// <summary>
/// The SentencePiece normalizer and encoder settings that change Llama-style BPE output. Defaults are Llama 2's
/// (identity normalizer, dummy prefix, no whitespace collapsing, byte fallback), which is also what llama2.c's
/// tokenizer.bin and GGUF "llama" vocabularies imply, since neither stores these settings.
/// </summary>
public sealed record SentencePieceOptions
{
    /// <summary>Prepend one space to non-empty input so a word encodes the same at the start as after a space.</summary>
    public bool AddDummyPrefix { get; init; } = true;

    /// <summary>Strip leading/trailing spaces and collapse runs of spaces before encoding (SentencePiece's default, off in Llama 2).</summary>
    public bool RemoveExtraWhitespaces { get; init; }

    /// <summary>Replace ' ' with U+2581 before encoding (always on for models SentencePiece can train).</summary>
    public bool EscapeWhitespaces { get; init; } = true;

    /// <summary>Encode characters that are not pieces as their UTF-8 bytes (&lt;0xNN&gt; pieces) instead of the unknown id.</summary>
    public bool ByteFallback { get; init; } = true;

    /// <summary>Shown for the unknown id when decoding (SentencePiece's unk_surface, " ⁇ " by default).</summary>
    public string UnknownSurface { get; init; } = " \u2047 ";

    /// <summary>Llama 2's settings.</summary>
    public static SentencePieceOptions Llama { get; } = new();
}
