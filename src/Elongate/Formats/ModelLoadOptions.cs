namespace Elongate.Formats;

/// <summary>How a model file is brought into memory.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// GGUF only: compute on the file's pages through a memory map (nothing is copied; the resident set grows as the
    /// weights are touched and the OS can drop them under pressure) instead of reading every tensor into managed memory
    /// first. Off by default because decoding from mapped pages is slower on the machines measured: TinyLlama-shaped
    /// Q4_0, 2 threads, AMD EPYC VM: 33.3 tokens/s mapped against 44.8 read in (llama.cpp: 40.3 and 45.6), the same
    /// peak memory either way (bench/results/model-*-2core.txt). Other formats are always read into memory.
    /// </summary>
    public bool MemoryMap { get; init; }

    /// <summary>The defaults: weights read into memory.</summary>
    public static ModelLoadOptions Default { get; } = new();
}
