namespace Elongate.Data;

/// <summary>
/// A tiny deterministic random generator (SplitMix64, Steele et al. 2014) whose whole state is one ulong, so data
/// order can be checkpointed and resumed exactly — System.Random's state cannot be saved.
/// </summary>
public struct SplitMix64
{
    /// <summary>The complete generator state.</summary>
    public ulong State;

    public SplitMix64(ulong seed) => State = seed;

    /// <summary>
    /// A generator for item <paramref name="index"/> of stream <paramref name="seed"/>, each input passed through
    /// SplitMix64's output mix first. A state of seed·a + index·γ would not do: the generator adds γ per draw, so item
    /// i + 1 would replay item i's draws shifted by one.
    /// </summary>
    public static SplitMix64 ForItem(ulong seed, ulong index) => new(Mix(Mix(seed) ^ (index * 0xD1B54A32D192ED03UL + 0x5EED)));

    /// <summary>SplitMix64's output function: a bijective mix of all 64 bits.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64() => Mix(State += 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        ulong threshold = (0UL - (ulong)n) % (ulong)n;
        while (true)
        {
            ulong r = NextUInt64();
            UInt128 m = (UInt128)r * (ulong)n;
            if ((ulong)m >= threshold) return (int)(m >> 64);
        }
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
