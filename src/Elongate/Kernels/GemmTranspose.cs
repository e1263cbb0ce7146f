namespace Elongate.Kernels;

/// <summary>Whether a GEMM operand is used as stored (row-major) or transposed.</summary>
public enum GemmTranspose
{
    /// <summary>op(X) = X.</summary>
    None,
    /// <summary>op(X) = Xᵀ: the operand is stored as the transpose of the matrix the product needs.</summary>
    Transpose,
}
