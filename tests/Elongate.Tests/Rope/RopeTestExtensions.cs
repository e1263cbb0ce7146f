using Elongate.Rope;

namespace Elongate.Tests.Rope;

/// <summary>
/// Test-only ways of applying RoPE that the engine itself does not use: the Hugging Face rotate-half layout (the
/// engine converts q/k rows to adjacent pairs at load) and one-head convenience calls on <see cref="RotaryEmbedding"/>.
/// </summary>
internal static class RopeTestExtensions
{
    /// <summary>Rotates pairs (i, i + rotaryDim/2) of the first rotaryDim entries (Hugging Face rotate_half layout).</summary>
    public static void ApplyHalves(this RopeTable table, Span<float> head, int position, RopeRole role = RopeRole.Query)
    {
        int h = table.Pairs;
        if (head.Length < 2 * h) throw new ArgumentException($"head has {head.Length} entries, rotary part needs {2 * h}", nameof(head));
        var c = table.Cos(position); var s = table.Sin(position); var x = table.XposScale(position, role);
        for (int i = 0; i < h; i++)
        {
            float a = head[i], b = head[i + h];
            float ci = c[i], si = s[i];
            if (!x.IsEmpty) { ci *= x[i]; si *= x[i]; }
            head[i] = a * ci - b * si;
            head[i + h] = b * ci + a * si;
        }
    }

    /// <summary>
    /// Rotates <paramref name="head"/> (adjacent pairs) for <paramref name="position"/>, using the frequencies for
    /// <paramref name="currentLength"/> (default position + 1, the causal rule).
    /// </summary>
    public static void ApplyAdjacent(this RotaryEmbedding rope, Span<float> head, int position, RopeRole role = RopeRole.Query, int currentLength = 0) =>
        rope.GetTable(currentLength > 0 ? currentLength : position + 1).ApplyAdjacent(head, position, role);

    /// <summary>As <see cref="ApplyAdjacent"/>, for the halves layout.</summary>
    public static void ApplyHalves(this RotaryEmbedding rope, Span<float> head, int position, RopeRole role = RopeRole.Query, int currentLength = 0) =>
        rope.GetTable(currentLength > 0 ? currentLength : position + 1).ApplyHalves(head, position, role);
}
