using System.Numerics.Tensors;

namespace Elongate.Kernels;

/// <summary>SwiGLU gating (Shazeer 2020): h = silu(gate) ⊙ up, with silu(z) = z·σ(z).</summary>
public static class SwiGlu
{
    /// <summary>Elements per vectorized step; the scratch lives on the stack.</summary>
    private const int Chunk = 256;

    /// <summary>Overwrites <paramref name="gate"/> with silu(gate) ⊙ up.</summary>
    /// <remarks>
    /// Vectorized in stack-sized chunks with TensorPrimitives (exp included): the scalar loop with MathF.Exp cost
    /// 4.4 ns per element, 107 µs per token on a 134M model (12 layers × 2048), about 3% of its decode time.
    /// </remarks>
    public static void Forward(Span<float> gate, ReadOnlySpan<float> up)
    {
        Span<float> e = stackalloc float[Chunk];
        for (int i = 0; i < gate.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, gate.Length - i);
            var g = gate.Slice(i, n);
            var t = e[..n];
            TensorPrimitives.Negate(g, t);
            TensorPrimitives.Exp(t, t);
            TensorPrimitives.Add(t, 1f, t);        // 1 + e^(−g)
            TensorPrimitives.Divide(g, t, g);      // g·σ(g)
            TensorPrimitives.Multiply(g, up.Slice(i, n), g);
        }
    }
}
