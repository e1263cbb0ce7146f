using System.Numerics;
using Elongate.Kernels;

namespace Elongate.Training;

/// <summary>A bias-free linear layer y = x·Wᵀ with W row-major [out, in], as every Llama projection is.</summary>
public static class Linear
{
    /// <summary>y[rows, out] = x[rows, in]·Wᵀ (overwrites y); <paramref name="precision"/> as in <see cref="MatrixProducts"/>.</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> weight, int rows, int inDim, int outDim,
        GemmPrecision precision = GemmPrecision.Fp32)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MatrixProducts.Forward(y, x, weight, rows, inDim, outDim, precision);

    /// <summary>dX += dY·W and dW += dYᵀ·X; X is the input saved from the forward pass. Both products in <paramref name="precision"/>.</summary>
    public static void Backward<T>(Span<T> dx, Span<T> dWeight, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> weight,
        int rows, int inDim, int outDim, GemmPrecision precision = GemmPrecision.Fp32)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        MatrixProducts.AccumulateInputGradient(dx, dy, weight, rows, inDim, outDim, precision);
        MatrixProducts.AccumulateWeightGradient(dWeight, dy, x, rows, inDim, outDim, precision);
    }
}
