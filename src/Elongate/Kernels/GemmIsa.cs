namespace Elongate.Kernels;

/// <summary>Instruction-set path for <see cref="Gemm"/>. <see cref="Auto"/> picks the widest one the CPU has; the others
/// exist so tests can check every path the machine can run.</summary>
public enum GemmIsa
{
    /// <summary>Widest supported: AVX-512F, else AVX2+FMA, else scalar.</summary>
    Auto,
    /// <summary>12×32 zmm register tile.</summary>
    Avx512,
    /// <summary>6×16 ymm register tile with FMA3.</summary>
    Avx2,
    /// <summary>Portable 4×4 scalar tile.</summary>
    Scalar,
}
