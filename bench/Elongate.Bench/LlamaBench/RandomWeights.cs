using System.Runtime.CompilerServices;
using Elongate.Model;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// Random values for one tensor at a time, made in parallel with a counter-based generator (SplitMix64 of tensor seed
/// and element index), so the same file comes out whatever the thread count. Matrices are uniform on ±√3/√n with n
/// the row length (variance 1/n: every projection of an RMS-normalized input keeps unit scale, so activations stay
/// finite through 32 layers and the logits are O(1)); norm gains are 1.
/// </summary>
internal static class RandomWeights
{
    private const int Chunk = 1 << 16;

    public static float[] Values(TensorSpec spec, ulong seed)
    {
        var v = new float[spec.ElementCount];
        if (!spec.IsMatrix)
        {
            Array.Fill(v, 1f);
            return v;
        }
        float scale = MathF.Sqrt(3f / spec.Shape[^1]);
        ulong tensorSeed = Mix(seed ^ Hash(spec.Name));
        long chunks = (v.LongLength + Chunk - 1) / Chunk;
        Parallel.For(0L, chunks, c =>
        {
            long start = c * Chunk, end = Math.Min(v.LongLength, start + Chunk);
            ulong state = tensorSeed + (ulong)start * 0x9E3779B97F4A7C15UL;
            var span = v.AsSpan((int)start, (int)(end - start)); // tensors here stay under 2^31 elements
            for (int i = 0; i < span.Length; i++)
            {
                state += 0x9E3779B97F4A7C15UL;
                // Top 24 bits → [0, 1) exactly representable in float, then to [-1, 1).
                float u = (Mix(state) >> 40) * (1f / (1 << 24));
                span[i] = (2f * u - 1f) * scale;
            }
        });
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Hash(string s)
    {
        ulong h = 14695981039346656037UL; // FNV-1a: stable across runs, unlike string.GetHashCode
        foreach (char ch in s) h = (h ^ ch) * 1099511628211UL;
        return h;
    }
}
