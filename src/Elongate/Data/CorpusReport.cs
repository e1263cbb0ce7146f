using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Tokenization;
using Elongate.Common;
using Elongate.Formats;

namespace Elongate.Data;

/// <summary>
/// report.json of a prepared data folder: the tokenizer (original path, copy inside the folder, vocabulary size), how
/// the split was made, per-split length distributions and per-file counts. Training reads it to find the vocabulary.
/// </summary>
public sealed record CorpusReport
{
    /// <summary>File name of the report inside a data folder.</summary>
    public const string FileName = "report.json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Full path of the tokenizer the text was encoded with.</summary>
    public required string Tokenizer { get; init; }

    /// <summary>File name of the tokenizer's copy in the data folder (null for a GGUF, which is not copied).</summary>
    public string? TokenizerCopy { get; init; }

    public required int VocabSize { get; init; }
    public int BosId { get; init; }
    public int EosId { get; init; }

    /// <summary>The hashed validation share, or null when <see cref="ValidationDocuments"/> chose the split.</summary>
    public double? ValidationFraction { get; init; }

    public IReadOnlyList<string>? ValidationDocuments { get; init; }
    public ulong Seed { get; init; }
    public int MinDocumentTokens { get; init; }
    public required LengthReport Train { get; init; }
    public required LengthReport Validation { get; init; }
    public required IReadOnlyList<CorpusSourceStats> Sources { get; init; }

    /// <summary>Writes report.json into <paramref name="directory"/> (temp file + rename).</summary>
    public void Save(string directory) =>
        AtomicFile.Write(Path.Combine(directory, FileName), s => JsonSerializer.Serialize(s, this, Json));

    /// <summary>Reads the report of a prepared data folder.</summary>
    /// <exception cref="ModelFormatException">The folder has no readable report.json.</exception>
    public static CorpusReport Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new ModelFormatException(path, "no report.json: is this a folder written by `elongate data prepare`?");
        try
        {
            var r = JsonSerializer.Deserialize<CorpusReport>(File.ReadAllBytes(path), Json)
                ?? throw new ModelFormatException(path, "report is null");
            if (r.VocabSize <= 0) throw new ModelFormatException(path, $"vocabSize {r.VocabSize} must be positive", key: "vocabSize");
            if (r.Tokenizer is null || r.Train is null || r.Validation is null || r.Sources is null)
                throw new ModelFormatException(path, "tokenizer, train, validation and sources are required", key: "tokenizer");
            return r;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not a valid report: {e.Message}", inner: e);
        }
    }

    /// <summary>
    /// The tokenizer of this data: the copy in the folder when there is one, else the original file.
    /// </summary>
    public ITokenizer LoadTokenizer(string directory)
    {
        var path = TokenizerCopy is not null && File.Exists(Path.Combine(directory, TokenizerCopy)) ? Path.Combine(directory, TokenizerCopy) : Tokenizer;
        var tok = TokenizerLoader.Load(path, VocabSize);
        if (tok.Vocabulary.Count != VocabSize)
            throw new ModelFormatException(path, $"tokenizer has {tok.Vocabulary.Count} pieces but the data was prepared with {VocabSize}");
        return tok;
    }
}
