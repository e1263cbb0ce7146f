using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Common;

namespace Elongate.Data;

/// <summary>
/// What <see cref="FineTuneSequenceBuilder"/> made of a set of examples: the settings, how many examples were packed,
/// padded or dropped, how many tokens carry loss and how much of the rows is padding, and the example lengths.
/// Serializes to JSON (<see cref="ToJson"/>).
/// </summary>
public sealed record FineTuneReport
{
    /// <summary>Tokens per row.</summary>
    public required int SeqLen { get; init; }

    /// <summary>Examples shorter than this were packed.</summary>
    public required int PackThreshold { get; init; }

    /// <summary>Which tokens carry loss.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<LossTokens>))]
    public required LossTokens Loss { get; init; }

    /// <summary>Whether packed examples were kept from attending to each other.</summary>
    public required bool MaskAcrossExamples { get; init; }

    /// <summary>Examples given to the builder.</summary>
    public required int Examples { get; init; }

    /// <summary>Examples packed with others (shorter than the threshold).</summary>
    public required int PackedExamples { get; init; }

    /// <summary>Examples given a row of their own, padded on the right.</summary>
    public required int PaddedExamples { get; init; }

    /// <summary>Examples longer than the row, dropped (only with DropTooLong).</summary>
    public required int DroppedExamples { get; init; }

    /// <summary>Ids of the dropped examples.</summary>
    public required IReadOnlyList<string> DroppedIds { get; init; }

    /// <summary>Examples kept whose tokens carry no loss at all under <see cref="Loss"/> (e.g. a template that drops the answer).</summary>
    public required int ExamplesWithoutLoss { get; init; }

    /// <summary>Rows built.</summary>
    public required int Rows { get; init; }

    /// <summary>Rows holding packed examples.</summary>
    public required int PackedRows { get; init; }

    /// <summary>Example tokens placed in rows (padding excluded).</summary>
    public required long Tokens { get; init; }

    /// <summary>Positions whose target carries loss.</summary>
    public required long LossTokenCount { get; init; }

    /// <summary>Padding positions.</summary>
    public required long PaddingTokens { get; init; }

    /// <summary>Padding positions over all positions (Rows × SeqLen); 0 when there are no rows.</summary>
    public required double PaddingShare { get; init; }

    /// <summary>Lengths, in tokens, of the examples kept.</summary>
    public required LengthReport Lengths { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>The report as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static FineTuneReport FromJson(string json) =>
        JsonSerializer.Deserialize<FineTuneReport>(json, Json) ?? throw new JsonException("the report is null");

    /// <summary>Writes the report to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());
}
