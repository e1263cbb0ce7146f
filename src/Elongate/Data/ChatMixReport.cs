using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Common;

namespace Elongate.Data;

/// <summary>What `elongate data chat-mix` wrote: per-source counts and, with a tokenizer, token lengths.</summary>
public sealed record ChatMixReport
{
    /// <summary>The mixed JSON Lines file.</summary>
    public required string Output { get; init; }

    /// <summary>The seed used.</summary>
    public required ulong Seed { get; init; }

    /// <summary>Examples written.</summary>
    public required int Examples { get; init; }

    /// <summary>The tokenizer the lengths were measured with, if any.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>The chat template the examples were rendered with for the lengths, if any.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Per source, in the order given.</summary>
    public required IReadOnlyList<ChatMixSourceReport> Sources { get; init; }

    /// <summary>Token lengths over the whole output, when a tokenizer was given.</summary>
    public LengthReport? Lengths { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The report as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="Save"/>.</summary>
    /// <exception cref="ModelFormatException">The file is not a chat-mix report.</exception>
    public static ChatMixReport Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ChatMixReport>(File.ReadAllBytes(path), Json) ?? throw new ModelFormatException(path, "the report is null");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not a chat-mix report: {e.Message}", inner: e);
        }
    }

    /// <summary>Writes the report to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());
}
