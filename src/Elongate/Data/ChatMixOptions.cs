using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>What <see cref="ChatMixer.Mix"/> combines, where it writes, and how it measures.</summary>
public sealed record ChatMixOptions
{
    /// <summary>The inputs with their weights (all weighted or none).</summary>
    public required IReadOnlyList<ChatMixSource> Sources { get; init; }

    /// <summary>The JSON Lines file to write; the report goes beside it (<see cref="ChatMixer.ReportPathFor"/>).</summary>
    public required string OutputPath { get; init; }

    /// <summary>Seed of the sampling and of the output order.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Examples to write; null means as many as the sources hold together.</summary>
    public int? Total { get; init; }

    /// <summary>When set (with <see cref="Template"/>), the report gives token lengths of the examples as rendered.</summary>
    public ITokenizer? Tokenizer { get; init; }

    /// <summary>Where <see cref="Tokenizer"/> came from, for the report.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>The chat template examples are rendered with for the token lengths (required with a tokenizer).</summary>
    public ChatTemplate? Template { get; init; }
}
