namespace Elongate.Formats;

/// <summary>How a model file is brought into memory.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// GGUF only: compute on the file's pages through a memory map (the default: nothing is copied, the resident set
    /// grows as the weights are touched, and the OS can drop them under pressure) instead of reading every tensor into
    /// managed memory first. Other formats are always read into memory.
    /// </summary>
    public bool MemoryMap { get; init; } = true;

    /// <summary>The defaults: memory-mapped.</summary>
    public static ModelLoadOptions Default { get; } = new();
}
