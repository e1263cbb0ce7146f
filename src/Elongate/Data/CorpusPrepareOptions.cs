namespace Elongate.Data;

/// <summary>What `elongate data prepare` reads and how it splits it.</summary>
public sealed record CorpusPrepareOptions
{
    /// <summary>tokenizer.model, tokenizer.bin or a GGUF whose vocabulary encodes the text.</summary>
    public required string TokenizerPath { get; init; }

    /// <summary>
    /// Input files: .txt (one document each) or .jsonl (one document per line, "text" field). A folder stands for its
    /// .txt and .jsonl files (not recursive), in ordinal name order.
    /// </summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>Folder that receives train.tokens, val.tokens, report.json and the tokenizer copy.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Share of documents held out for validation, decided per document by a seeded hash of its name.</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>
    /// Names of the documents (or whole input files) to hold out instead of the hashed fraction. A .txt document is
    /// named by its file name; a .jsonl document by "file.jsonl:id" (its "id" field) or "file.jsonl:line".
    /// </summary>
    public IReadOnlyCollection<string>? ValidationDocuments { get; init; }

    /// <summary>Seed of the hashed split.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Documents with fewer tokens (BOS and EOS included) are skipped.</summary>
    public int MinDocumentTokens { get; init; }

    internal void Validate()
    {
        if (Inputs.Count == 0) throw new ArgumentException("data prepare needs at least one --input file");
        if (!(ValidationFraction >= 0 && ValidationFraction <= 1)) throw new ArgumentException($"--val-fraction must be in [0, 1], got {ValidationFraction}");
        if (MinDocumentTokens < 0) throw new ArgumentException($"--min-doc-tokens must be ≥ 0, got {MinDocumentTokens}");
    }

    /// <summary>The input files with folders expanded; each must be a .txt or .jsonl file.</summary>
    internal string[] ExpandedInputs() => ExpandInputs(Inputs);

    /// <summary>Files with folders expanded to their .txt and .jsonl files (ordinal order); anything else is an error.</summary>
    internal static string[] ExpandInputs(IReadOnlyList<string> inputs)
    {
        static bool Supported(string f) => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var inside = Directory.GetFiles(input).Where(Supported).Order(StringComparer.Ordinal).ToArray();
                if (inside.Length == 0) throw new ArgumentException($"input folder '{input}' holds no .txt or .jsonl files");
                files.AddRange(inside.Select(Path.GetFullPath));
            }
            else if (!Supported(input))
                throw new ArgumentException($"input '{input}' must be a .txt (one document) or .jsonl (one document per line) file, or a folder of them");
            else files.Add(Path.GetFullPath(input));
        }
        return files.ToArray();
    }
}
