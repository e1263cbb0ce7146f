namespace Elongate.Kernels;

/// <summary>
/// y = x·Wᵀ for a batch of row vectors against a row-major [out, in] weight (nn.Linear layout): the blocked
/// <see cref="Gemm"/> for prompt batches and its GEMV path for single tokens.
/// </summary>
public static class MatMul
{
    /// <summary>y[t, o] = Σ_i x[t, i]·w[o, i] for t &lt; rows.</summary>
    /// <param name="y">Output, [rows, outDim].</param>
    /// <param name="x">Input, [rows, inDim].</param>
    /// <param name="w">Weight, [outDim, inDim].</param>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, int rows, int inDim, int outDim)
    {
        if (x.Length < (long)rows * inDim || w.Length < (long)outDim * inDim || y.Length < (long)rows * outDim)
            throw new ArgumentException($"matmul shapes do not fit: x {x.Length} for [{rows},{inDim}], w {w.Length} for [{outDim},{inDim}], y {y.Length}");
        Gemm.NT(y, x, w, rows, outDim, inDim);
    }
}
