namespace Elongate.Kernels;

/// <summary>
/// Instruction-set path of <see cref="QuantMatMul"/>'s dot products. <see cref="Auto"/> picks the best one the CPU has;
/// the others exist so tests can run every path the machine supports. (.NET 10 exposes 512-bit VNNI only through
/// AVX10.1/512, which Zen 5 does not report, so the int8 products use 256-bit AVX-VNNI.)
/// </summary>
internal enum QuantIsa
{
    /// <summary>AVX-VNNI if present, else AVX2, else scalar.</summary>
    Auto,
    /// <summary>256-bit, int8 products with vpdpbusd (AVX-VNNI) where the type allows, AVX2 elsewhere.</summary>
    AvxVnni,
    /// <summary>256-bit, int8 products with vpmaddubsw + vpmaddwd, fp16 weights widened with integer ops, FMA3.</summary>
    Avx2,
    /// <summary>Portable scalar code.</summary>
    Scalar,
}
