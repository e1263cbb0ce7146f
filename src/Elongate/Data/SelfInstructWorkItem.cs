namespace Elongate.Data;

/// <summary>One question to ask: a chunk of a document and a kind of answer.</summary>
/// <param name="Document">Index of the document in the run.</param>
/// <param name="DocumentName">The document's file name, part of the key.</param>
/// <param name="Chunk">Index of the chunk within the document.</param>
/// <param name="Kind">Short or long answer.</param>
/// <param name="ChunkTokenOffset">First token of the chunk in the document.</param>
/// <param name="ChunkTokenCount">Tokens in the chunk.</param>
/// <param name="Seed">This item's own seed (teacher sampling, truncation window), independent of the others.</param>
public sealed record SelfInstructWorkItem(int Document, string DocumentName, int Chunk, SelfInstructKind Kind, int ChunkTokenOffset, int ChunkTokenCount, ulong Seed)
{
    /// <summary>The resume key, "doc:chunk:kind".</summary>
    public string Key => KeyOf(DocumentName, Chunk, Kind);

    /// <summary>The key of a document's chunk and kind.</summary>
    public static string KeyOf(string document, int chunk, SelfInstructKind kind) => $"{document}:{chunk}:{kind.ToString().ToLowerInvariant()}";
}
