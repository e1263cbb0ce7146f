namespace Elongate.Kernels;

/// <summary>
/// Data-cache capacities one core can count on, in bytes: its own L1 data cache and L2, and its share of the last-level
/// cache. The input of <see cref="GemmPlan.Create"/>; <see cref="CpuInfo.Caches"/> holds the host's values.
/// </summary>
/// <param name="L1Data">Level-1 data cache of one core.</param>
/// <param name="L2">Level-2 cache of one core (divided among the CPUs that share it).</param>
/// <param name="L3">Level-3 cache available to this process's threads together (the share of the CPUs this process
/// may use among those that share it), or 0 when there is none or it is unknown.</param>
public readonly record struct CacheSizes(long L1Data, long L2, long L3)
{
    /// <summary>
    /// What <see cref="CpuInfo"/> assumes when neither /sys nor CPUID report caches: 32 KiB L1d and 512 KiB L2 (less than
    /// any AVX2-era x86 or recent ARM core has, so the blocks never overflow), no L3.
    /// </summary>
    public static CacheSizes Fallback => new(32 << 10, 512 << 10, 0);

    /// <inheritdoc/>
    public override string ToString() =>
        $"L1d {Kib(L1Data)}, L2 {Kib(L2)}, L3 share {(L3 > 0 ? Kib(L3) : "none")}";

    private static string Kib(long bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
