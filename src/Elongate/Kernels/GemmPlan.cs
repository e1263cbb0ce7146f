using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>Register tile and cache blocking for one kernel path.</summary>
internal sealed unsafe class GemmPlan
{
    public required int MR { get; init; }
    public required int NR { get; init; }
    /// <summary>Rows of a packed A block (L2-resident: MC·KC floats).</summary>
    public required int MC { get; init; }
    /// <summary>Depth of a packed panel; one B sliver (KC·NR floats) is reused from L1/L2 across a whole A block.</summary>
    public required int KC { get; init; }
    /// <summary>Columns of the shared packed B panel (L3-resident: KC·NC floats).</summary>
    public required int NC { get; init; }
    /// <summary>Pack with AVX-512 transposes/copies (only the AVX-512 path, so the other paths' packers stay tested).</summary>
    public bool VectorPack { get; init; }
    public required delegate*<int, float*, float*, float*, nint, int, int, float, float, void> Kernel { get; init; }

    // Tuned on a 2-core Zen 5 EPYC (48 KiB L1d, 1 MiB L2 per core, 32 MiB L3) at n = 1024 and 4096: KC = 512 halves the
    // C read-modify-write traffic of KC = 256 and measured 3–7 % faster although the 64 KiB B sliver then streams from
    // L2; MC·KC = 384 KiB of packed A stays in L2 and a KC×NC = 4 MiB B panel in L3.
    private static readonly GemmPlan s_avx512 = new()
    {
        MR = GemmKernelAvx512.MR, NR = GemmKernelAvx512.NR, MC = 192, KC = 512, NC = 2048,
        Kernel = &GemmKernelAvx512.Run, VectorPack = true,
    };
    private static readonly GemmPlan s_avx2 = new()
    {
        MR = GemmKernelAvx2.MR, NR = GemmKernelAvx2.NR, MC = 192, KC = 512, NC = 2048, Kernel = &GemmKernelAvx2.Run,
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
