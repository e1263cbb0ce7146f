namespace Elongate.Data;

/// <summary>
/// Where <see cref="CorpusPreparer.Prepare"/> stands: file <see cref="FileIndex"/> of <see cref="FileCount"/>, bytes
/// read of all inputs; <see cref="FileDone"/> marks the report sent once a file is finished (with its counts).
/// </summary>
public sealed record CorpusProgress(int FileIndex, int FileCount, string File, long BytesRead, long TotalBytes, bool FileDone = false, CorpusSourceStats? Stats = null);
