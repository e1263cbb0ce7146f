namespace Elongate.Data;

/// <summary>What one input file contributed: documents and tokens kept, how they split, and how many were skipped.</summary>
public sealed record CorpusSourceStats(string File, long Bytes, long Documents, long Tokens, long TrainDocuments, long ValidationDocuments, long Skipped);
