using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Elongate.Kernels;

namespace Elongate.Training;

/// <summary>
/// The three matrix products training needs. Weights are row-major [out, in] (nn.Linear layout). In float they run
/// on the blocked GEMM (<see cref="Kernels.Gemm"/>; the forward through <see cref="MatMul.Forward"/>, so training
/// logits agree with <see cref="Model.InferenceSession"/>); the generic paths exist so the same layer code runs in
/// double for finite-difference gradient checks. Each takes a <see cref="GemmPrecision"/>: <see cref="GemmPrecision.Bf16"/>
/// rounds both inputs to bfloat16 and accumulates in fp32 into the fp32 output (mixed-precision training); it applies to
/// float only.
/// </summary>
public static class MatrixProducts
{
    /// <summary>Below this many multiply-adds one core is faster than waking the pool.</summary>
    private const long ParallelThreshold = 1 << 17;

    /// <summary>y[t, o] = Σ_i x[t, i]·w[o, i] (overwrites y).</summary>
    public static unsafe void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> w, int rows, int inDim, int outDim,
        GemmPrecision precision = GemmPrecision.Fp32)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(y.Length, x.Length, w.Length, rows, inDim, outDim, "y", "x");
        CheckPrecision<T>(precision);
        if (typeof(T) == typeof(float))
        {
            if (precision == GemmPrecision.Fp32)
                MatMul.Forward(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(w), rows, inDim, outDim);
            else
                Kernels.Gemm.NT(MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(w), rows, outDim, inDim, precision: precision);
            return;
        }
        fixed (T* px = x, pw = w, py = y)
        {
            nint xp = (nint)px, wp = (nint)pw, yp = (nint)py;
            ParallelRange(outDim, (long)rows * inDim * outDim, (o0, o1) =>
            {
                T* xs = (T*)xp, ws = (T*)wp, ys = (T*)yp;
                for (int o = o0; o < o1; o++)
                {
                    var wRow = new ReadOnlySpan<T>(ws + (long)o * inDim, inDim);
                    for (int t = 0; t < rows; t++)
                        ys[(long)t * outDim + o] = TensorPrimitives.Dot(new ReadOnlySpan<T>(xs + (long)t * inDim, inDim), wRow);
                }
            });
        }
    }

    /// <summary>dx[t, i] += Σ_o dy[t, o]·w[o, i]: the input gradient of y = x·wᵀ.</summary>
    public static unsafe void AccumulateInputGradient<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, int rows, int inDim, int outDim,
        GemmPrecision precision = GemmPrecision.Fp32)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(dy.Length, dx.Length, w.Length, rows, inDim, outDim, "dy", "dx");
        CheckPrecision<T>(precision);
        if (typeof(T) == typeof(float))
        {
            // dx[rows, in] += dy[rows, out] · w[out, in]
            Kernels.Gemm.NN(MemoryMarshal.Cast<T, float>(dx), MemoryMarshal.Cast<T, float>(dy), MemoryMarshal.Cast<T, float>(w), rows, inDim, outDim,
                accumulate: true, precision: precision);
            return;
        }
        fixed (T* pdx = dx, pdy = dy, pw = w)
        {
            nint dxp = (nint)pdx, dyp = (nint)pdy, wp = (nint)pw;
            // Split over rows: each task owns its dx rows, so no two tasks write the same element.
            ParallelRange(rows, (long)rows * inDim * outDim, (t0, t1) =>
            {
                T* dxs = (T*)dxp, dys = (T*)dyp, ws = (T*)wp;
                for (int t = t0; t < t1; t++)
                {
                    var dxRow = new Span<T>(dxs + (long)t * inDim, inDim);
                    for (int o = 0; o < outDim; o++)
                    {
                        T g = dys[(long)t * outDim + o];
                        if (g == T.Zero) continue;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(ws + (long)o * inDim, inDim), g, dxRow, dxRow);
                    }
                }
            });
        }
    }

    /// <summary>dw[o, i] += Σ_t dy[t, o]·x[t, i]: the weight gradient of y = x·wᵀ.</summary>
    public static unsafe void AccumulateWeightGradient<T>(Span<T> dw, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int rows, int inDim, int outDim,
        GemmPrecision precision = GemmPrecision.Fp32)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(dy.Length, x.Length, dw.Length, rows, inDim, outDim, "dy", "x");
        CheckPrecision<T>(precision);
        if (typeof(T) == typeof(float))
        {
            // dw[out, in] += dy[rows, out]ᵀ · x[rows, in]
            Kernels.Gemm.TN(MemoryMarshal.Cast<T, float>(dw), MemoryMarshal.Cast<T, float>(dy), MemoryMarshal.Cast<T, float>(x), outDim, inDim, rows,
                accumulate: true, precision: precision);
            return;
        }
        fixed (T* pdw = dw, pdy = dy, px = x)
        {
            nint dwp = (nint)pdw, dyp = (nint)pdy, xp = (nint)px;
            // Split over output rows of dw: each task owns its rows of the weight gradient.
            ParallelRange(outDim, (long)rows * inDim * outDim, (o0, o1) =>
            {
                T* dws = (T*)dwp, dys = (T*)dyp, xs = (T*)xp;
                for (int o = o0; o < o1; o++)
                {
                    var dwRow = new Span<T>(dws + (long)o * inDim, inDim);
                    for (int t = 0; t < rows; t++)
                    {
                        T g = dys[(long)t * outDim + o];
                        if (g == T.Zero) continue;
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(xs + (long)t * inDim, inDim), g, dwRow, dwRow);
                    }
                }
            });
        }
    }

    /// <summary>bf16 inputs are a property of the float GEMM; the double path (gradient checks) has no such variant.</summary>
    internal static void CheckPrecision<T>(GemmPrecision precision)
    {
        if (precision != GemmPrecision.Fp32 && typeof(T) != typeof(float))
            throw new ArgumentException($"{precision} matrix products apply to float training only, not {typeof(T).Name}", nameof(precision));
        _ = GemmPlan.ElementSize(precision);
    }

    private static void Check(long outLength, long inLength, long wLength, int rows, int inDim, int outDim, string outName, string inName)
    {
        if (rows < 0 || inDim < 0 || outDim < 0 || outLength < (long)rows * outDim || inLength < (long)rows * inDim || wLength < (long)outDim * inDim)
            throw new ArgumentException($"matmul shapes do not fit: {outName} {outLength} for [{rows},{outDim}], {inName} {inLength} for [{rows},{inDim}], w {wLength} for [{outDim},{inDim}]");
    }

    /// <summary>Runs body over [0, n) in a few contiguous chunks when the work pays for the threads.</summary>
    internal static void ParallelRange(int n, long work, Action<int, int> body)
    {
        if (n <= 1 || work < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            body(0, n);
            return;
        }
        int chunks = Math.Min(n, Environment.ProcessorCount * 4);
        Parallel.For(0, chunks, c => body((int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks)));
    }
}
