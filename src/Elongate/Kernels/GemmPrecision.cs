namespace Elongate.Kernels;

/// <summary>
/// The format <see cref="Gemm"/> packs its inputs in. Accumulation and the output C are fp32 in every case; only the
/// values of op(A) and op(B) that enter the products differ.
/// </summary>
/// <remarks>
/// There is no FP16 (IEEE half) variant: .NET 10 exposes no F16C/AVX-512-FP16 conversion intrinsic (vcvtph2ps), so
/// widening half in the micro-kernel costs several integer operations per vector instead of bf16's one shift or
/// mask, and fp16 training would also need dynamic loss scaling (its 5-bit exponent flushes small gradients to zero),
/// which the trainer does not have. bf16 keeps fp32's exponent range and needs neither.
/// </remarks>
public enum GemmPrecision
{
    /// <summary>Single precision inputs (the default everywhere).</summary>
    Fp32,
    /// <summary>
    /// Inputs rounded to bfloat16 (round to nearest even; NaN stays a quiet NaN) while packing and stored as 16-bit, so
    /// the packed blocks take half the memory; the micro-kernel widens them back to fp32 exactly and accumulates in fp32 —
    /// the numerics of VDPBF16PS up to the order of the sum, emulated: .NET 10 exposes no AVX-512-BF16 instruction.
    /// </summary>
    Bf16,
}
