namespace Elongate.Kernels;

/// <summary>RMSNorm (Zhang &amp; Sennrich 2019) as Llama uses it: y = g ⊙ x / sqrt(mean(x²) + ε).</summary>
public static class RmsNorm
{
    /// <summary>Normalizes each of <paramref name="rows"/> rows of width <c>gain.Length</c>.</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> gain, int rows, float eps)
    {
        int n = gain.Length;
        for (int t = 0; t < rows; t++)
        {
            var xr = x.Slice(t * n, n);
            var yr = y.Slice(t * n, n);
            // Sum of squares in float like llama2.c and llama.cpp's CPU path, so greedy outputs match bit for bit.
            float ss = 0f;
            for (int i = 0; i < n; i++) ss += xr[i] * xr[i];
            float scale = 1f / MathF.Sqrt(ss / n + eps);
            for (int i = 0; i < n; i++) yr[i] = gain[i] * (scale * xr[i]);
        }
    }
}
