namespace Elongate.Model;

/// <summary>
/// A context whose cache and buffers would not fit in the memory this process may use, refused before anything is
/// allocated (rather than an out-of-memory crash half-way through).
/// </summary>
public sealed class ContextMemoryException : Exception
{
    /// <summary>Bytes the context needs.</summary>
    public long RequiredBytes { get; }

    /// <summary>Bytes available when it was checked.</summary>
    public long AvailableBytes { get; }

    public ContextMemoryException(string message, long required, long available) : base(message)
    {
        RequiredBytes = required;
        AvailableBytes = available;
    }

    /// <summary>Memory this process can still allocate: the GC's limit (container or machine) less what is in use.</summary>
    public static long AvailableMemory()
    {
        var info = GC.GetGCMemoryInfo();
        long total = info.TotalAvailableMemoryBytes;
        long available = total - GC.GetTotalMemory(false);
        // The kernel's own estimate also counts page cache it can drop and excludes other processes' memory.
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    long kb = long.Parse(line.AsSpan(13).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    available = Math.Min(available, kb * 1024);
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return available;
    }

    /// <summary>Throws when <paramref name="required"/> bytes exceed what is available, naming the sizes.</summary>
    public static void ThrowIfTooLarge(string source, long required, int contextLength, KvCacheType cacheType)
    {
        long available = AvailableMemory();
        if (required <= available) return;
        throw new ContextMemoryException(
            $"{source}: a context of {contextLength:N0} positions needs {Gib(required)} for its {cacheType} key/value cache and buffers, " +
            $"but only {Gib(available)} is available; use a shorter --context or --cache-type f16/q8_0", required, available);
    }

    private static string Gib(long bytes) => $"{bytes / (double)(1L << 30):0.00} GiB";
}
