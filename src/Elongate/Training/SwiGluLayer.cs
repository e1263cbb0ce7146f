using System.Numerics;

namespace Elongate.Training;

/// <summary>SwiGLU gating h = silu(gate) ⊙ up with silu(z) = z·σ(z); gate and up are kept for the backward.</summary>
public static class SwiGluLayer
{
    /// <summary>h = silu(gate) ⊙ up (overwrites h; same formula and rounding as Kernels.SwiGlu).</summary>
    public static void Forward<T>(Span<T> h, ReadOnlySpan<T> gate, ReadOnlySpan<T> up)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < h.Length; i++)
        {
            T g = gate[i];
            h[i] = g / (T.One + T.Exp(-g)) * up[i];
        }
    }

    /// <summary>dUp += dh·silu(g); dGate += dh·up·σ(g)·(1 + g·(1 − σ(g))).</summary>
    public static void Backward<T>(Span<T> dGate, Span<T> dUp, ReadOnlySpan<T> dh, ReadOnlySpan<T> gate, ReadOnlySpan<T> up)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < dh.Length; i++)
        {
            T g = gate[i];
            T sig = T.One / (T.One + T.Exp(-g));
            dUp[i] += dh[i] * g * sig;
            dGate[i] += dh[i] * up[i] * sig * (T.One + g * (T.One - sig));
        }
    }
}
