using System.Buffers.Binary;
using System.Diagnostics;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests;

/// <summary>
/// Seeded, reproducible corruption of a file's header region, shared by every format's robustness test.
/// Each mutation is one of: flip a bit, set a byte to 0x00/0xFF/random, overwrite a 4- or 8-byte little-endian
/// integer with an extreme value (−1, 2^31−1, 2^60, …), or truncate the file. A reader under test may accept
/// the result or throw <see cref="ModelFormatException"/>; anything else (OutOfMemory, IndexOutOfRange, a hang) fails.
/// </summary>
public static class HeaderMutator
{
    private static readonly long[] Extremes =
    [
        0, 1, -1, 2, 3, 7, 255, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1L << 32, 1L << 40, 1L << 60, long.MaxValue, long.MinValue,
    ];

    /// <summary>Returns a mutated copy of <paramref name="original"/>, touching only its first <paramref name="headerLength"/> bytes (truncation aside).</summary>
    public static byte[] Mutate(byte[] original, int headerLength, Random rng)
    {
        headerLength = Math.Clamp(headerLength, 1, original.Length);
        int kind = rng.Next(7);
        if (kind == 6)
            return original.AsSpan(0, rng.Next(original.Length)).ToArray(); // truncation anywhere
        var bytes = (byte[])original.Clone();
        int count = 1 + rng.Next(3);
        for (int i = 0; i < count; i++)
        {
            int pos = rng.Next(headerLength);
            switch (kind)
            {
                case 0: bytes[pos] ^= (byte)(1 << rng.Next(8)); break;
                case 1: bytes[pos] = 0; break;
                case 2: bytes[pos] = 0xFF; break;
                case 3: bytes[pos] = (byte)rng.Next(256); break;
                case 4 when pos + 4 <= bytes.Length:
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(pos), (int)Extremes[rng.Next(Extremes.Length)]); break;
                case 5 when pos + 8 <= bytes.Length:
                    BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(pos), Extremes[rng.Next(Extremes.Length)]); break;
                default: bytes[pos] = (byte)rng.Next(256); break;
            }
        }
        return bytes;
    }

    /// <summary>
    /// Runs <paramref name="count"/> mutations through <paramref name="read"/> (which gets a path to the mutated file
    /// written in a temp folder) and fails on the first exception that is not a <see cref="ModelFormatException"/>,
    /// or on any single read slower than <paramref name="perCaseLimit"/>. Returns how many were rejected.
    /// </summary>
    public static int Run(byte[] valid, int headerLength, int count, int seed, Action<byte[]> read, TimeSpan? perCaseLimit = null)
    {
        var limit = perCaseLimit ?? TimeSpan.FromSeconds(2);
        var rng = new Random(seed);
        int rejected = 0;
        for (int i = 0; i < count; i++)
        {
            var mutated = Mutate(valid, headerLength, rng);
            var sw = Stopwatch.StartNew();
            try
            {
                read(mutated);
            }
            catch (ModelFormatException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation #{i} (seed {seed}) threw {e.GetType().Name} instead of ModelFormatException: {e.Message}\n{e.StackTrace}");
            }
            if (sw.Elapsed > limit)
                Assert.Fail($"mutation #{i} (seed {seed}) took {sw.Elapsed.TotalMilliseconds:F0} ms (limit {limit.TotalMilliseconds} ms)");
        }
        return rejected;
    }
}
