using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>Register tile and cache blocking for one kernel path.</summary>
internal sealed unsafe class GemmPlan
{
    public required int MR { get; init; }
    public required int NR { get; init; }
    /// <summary>Rows of a packed A block (L2-resident: MC·KC floats).</summary>
    public required int MC { get; init; }
    /// <summary>Depth of a packed panel; a B sliver (KC·NR floats) stays in L1 across an A block.</summary>
    public required int KC { get; init; }
    /// <summary>Columns of the shared packed B panel (L3-resident: KC·NC floats).</summary>
    public required int NC { get; init; }
    /// <summary>Pack with AVX-512 transposes/copies (only the AVX-512 path, so the other paths' packers stay tested).</summary>
    public bool VectorPack { get; init; }
    public required delegate*<int, float*, float*, float*, nint, int, int, float, float, void> Kernel { get; init; }

    private static readonly GemmPlan s_avx512 = new()
    {
        MR = GemmKernelAvx512.MR, NR = GemmKernelAvx512.NR, MC = 144, KC = 256, NC = 3072,
        Kernel = &GemmKernelAvx512.Run, VectorPack = true,
    };
    private static readonly GemmPlan s_avx2 = new()
    {
        MR = GemmKernelAvx2.MR, NR = GemmKernelAvx2.NR, MC = 144, KC = 256, NC = 3072, Kernel = &GemmKernelAvx2.Run,
    };
    private static readonly GemmPlan s_scalar = new()
    {
        MR = GemmKernelScalar.MR, NR = GemmKernelScalar.NR, MC = 64, KC = 256, NC = 1024, Kernel = &GemmKernelScalar.Run,
    };

    public static GemmPlan For(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => s_avx512,
        GemmIsa.Avx2 => s_avx2,
        _ => s_scalar,
    };
}
