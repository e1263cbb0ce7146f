using System.Numerics;

namespace Elongate.Training;

/// <summary>
/// RMSNorm y = g ⊙ x·r with r = 1/sqrt(mean(x²) + ε) per row; the forward saves r so the backward needs no
/// second reduction over x² (llm.c keeps the same statistic).
/// </summary>
public static class RmsNormLayer
{
    /// <summary>Normalizes <paramref name="rows"/> rows of width gain.Length; writes y and the per-row r into rstd.</summary>
    public static void Forward<T>(Span<T> y, Span<T> rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> gain, int rows, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gain.Length;
        T count = T.CreateChecked(n);
        for (int t = 0; t < rows; t++)
        {
            var xr = x.Slice(t * n, n);
            var yr = y.Slice(t * n, n);
            // Sequential sum in the working precision, the same order as Kernels.RmsNorm, so float training logits
            // reproduce the inference path exactly.
            T ss = T.Zero;
            for (int i = 0; i < n; i++) ss += xr[i] * xr[i];
            T r = T.One / T.Sqrt(ss / count + eps);
            rstd[t] = r;
            for (int i = 0; i < n; i++) yr[i] = gain[i] * (r * xr[i]);
        }
    }

    /// <summary>
    /// dx += r·g⊙dy − x·r³·(Σ g⊙dy⊙x)/n and dGain += Σ_rows dy⊙x·r, the derivative of the forward with r's
    /// own dependence on x included.
    /// </summary>
    public static void Backward<T>(Span<T> dx, Span<T> dGain, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> gain,
        ReadOnlySpan<T> rstd, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gain.Length;
        for (int t = 0; t < rows; t++)
            BackwardRow(dx.Slice(t * n, n), dGain, dy.Slice(t * n, n), x.Slice(t * n, n), gain, rstd[t]);
    }

    /// <summary>One row of <see cref="Backward"/> (r = that row's 1/rms): adds into <paramref name="dx"/> and <paramref name="dGain"/>.</summary>
    internal static void BackwardRow<T>(Span<T> dx, Span<T> dGain, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> gain, T r)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gain.Length;
        T dot = T.Zero;
        for (int i = 0; i < n; i++) dot += gain[i] * dy[i] * x[i];
        T c = r * r * r * dot / T.CreateChecked(n);
        for (int i = 0; i < n; i++)
        {
            dx[i] += r * gain[i] * dy[i] - c * x[i];
            dGain[i] += dy[i] * x[i] * r;
        }
    }
}
