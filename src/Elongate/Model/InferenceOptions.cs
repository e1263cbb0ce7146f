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

    /// <summary>
    /// Prompt tokens processed together (llama.cpp's n_batch default). Batches of 96 rows or more take the GEMM path of
    /// the quantized kernels: a 1,024-token prompt on a 134M Q4_0 model ran at 1,015 tokens/s in batches of 512 against
    /// 672 in batches of 64 (2 threads, EPYC); the buffers grow by ~0.1 MB per row per 1k of vocabulary.
    /// </summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>All cores, F32 cache, batches of 512.</summary>
    public static InferenceOptions Default { get; } = new();
}
