namespace Elongate.Kernels;

/// <summary>SwiGLU gating (Shazeer 2020): h = silu(gate) ⊙ up, with silu(z) = z·σ(z).</summary>
public static class SwiGlu
{
    /// <summary>Overwrites <paramref name="gate"/> with silu(gate) ⊙ up.</summary>
    public static void Forward(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }
}
