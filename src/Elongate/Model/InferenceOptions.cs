using Elongate.Kernels;

namespace Elongate.Model;

/// <summary>How inference sessions on a model run: threads, key/value cache storage, prompt batch size.</summary>
public sealed record InferenceOptions
{
    /// <summary>The threads kernels run on; null means <see cref="WorkerPool.Default"/> (every core).</summary>
    public WorkerPool? Pool { get; init; }

    /// <summary>Storage of the key/value cache.</summary>
    public KvCacheType CacheType { get; init; } = KvCacheType.F32;

    /// <summary>Prompt tokens processed together.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>All cores, F32 cache, batches of 64.</summary>
    public static InferenceOptions Default { get; } = new();
}
