using System.Numerics.Tensors;

namespace Elongate.Kernels;

/// <summary>
/// y = x·Wᵀ for a batch of row vectors against a row-major [out, in] weight (nn.Linear layout). Each weight row is
/// read once per call and dotted with every input row while it is in cache; rows are split across cores when the
/// work is large enough to pay for the threads.
/// </summary>
public static class MatMul
{
    /// <summary>Below this many multiply-adds one core is faster than waking the pool.</summary>
    private const long ParallelThreshold = 1 << 17;

    /// <summary>y[t, o] = Σ_i x[t, i]·w[o, i] for t &lt; rows.</summary>
    /// <param name="y">Output, [rows, outDim].</param>
    /// <param name="x">Input, [rows, inDim].</param>
    /// <param name="w">Weight, [outDim, inDim].</param>
    public static unsafe void Forward(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, int rows, int inDim, int outDim)
    {
        if (x.Length < (long)rows * inDim || w.Length < (long)outDim * inDim || y.Length < (long)rows * outDim)
            throw new ArgumentException($"matmul shapes do not fit: x {x.Length} for [{rows},{inDim}], w {w.Length} for [{outDim},{inDim}], y {y.Length}");
        fixed (float* px = x, pw = w, py = y)
        {
            nint xp = (nint)px, wp = (nint)pw, yp = (nint)py;
            long work = (long)rows * inDim * outDim;
            if (work < ParallelThreshold || Environment.ProcessorCount == 1)
            {
                Rows(xp, wp, yp, rows, inDim, outDim, 0, outDim);
                return;
            }
            int chunks = Math.Min(outDim, Environment.ProcessorCount * 4);
            Parallel.For(0, chunks, c =>
            {
                int o0 = (int)((long)outDim * c / chunks), o1 = (int)((long)outDim * (c + 1) / chunks);
                Rows(xp, wp, yp, rows, inDim, outDim, o0, o1);
            });
        }
    }

    private static unsafe void Rows(nint xp, nint wp, nint yp, int rows, int inDim, int outDim, int o0, int o1)
    {
        float* x = (float*)xp, w = (float*)wp, y = (float*)yp;
        for (int o = o0; o < o1; o++)
        {
            var wRow = new ReadOnlySpan<float>(w + (long)o * inDim, inDim);
            for (int t = 0; t < rows; t++)
                y[(long)t * outDim + o] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + (long)t * inDim, inDim), wRow);
        }
    }
}
