using Elongate.Kernels;

namespace Elongate.Model;

/// <summary>How inference sessions on a model run: threads, key/value cache storage, prompt batch size.</summary>
public sealed record InferenceOptions
{
    /// <summary>
    /// Threads the kernels may use (0: every core). All kernels share the process-wide <see cref="WorkerPool.Default"/>
    /// and take at most this many of its threads: two pools would spin their workers against each other on the same cores.
    /// </summary>
    public int Threads { get; init; }

    /// <summary>Storage of the key/value cache.</summary>
    public KvCacheType CacheType { get; init; } = KvCacheType.F32;

    /// <summary>Prompt tokens processed together.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>All cores, F32 cache, batches of 64.</summary>
    public static InferenceOptions Default { get; } = new();
}
