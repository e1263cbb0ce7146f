using System.Globalization;

namespace Elongate.Kernels;

/// <summary>
/// Register tile and cache blocking for one kernel path, derived from the host's cache sizes once per process
/// (<see cref="For"/>) by the rule of <see cref="Create"/>.
/// </summary>
internal sealed unsafe class GemmPlan
{
    /// <summary>Environment variable that replaces the cache rule by explicit "MC,KC,NC" (experiments on a new host).</summary>
    public const string OverrideVariable = "ELONGATE_GEMM_BLOCKING";

    /// <summary>KC is a multiple of this: whole k-quant super-blocks for <see cref="QuantGemm"/> and whole 16-wide transposes.</summary>
    public const int KcGranule = 256;

    public required GemmIsa Isa { get; init; }
    /// <summary>Format of the packed blocks; the kernel matches it.</summary>
    public GemmPrecision Precision { get; init; }
    /// <summary>Bytes per packed element (4 for fp32, 2 for bf16): the cache rule budgets bytes, not elements.</summary>
    public int ElementBytes => ElementSize(Precision);
    public required int MR { get; init; }
    public required int NR { get; init; }
    /// <summary>Rows of a packed A block (L2-resident: MC·KC elements).</summary>
    public required int MC { get; init; }
    /// <summary>Depth of a packed panel; one B sliver (KC·NR elements) is reused across a whole A block.</summary>
    public required int KC { get; init; }
    /// <summary>Columns of the shared packed B panel (L3-resident: KC·NC elements).</summary>
    public required int NC { get; init; }
    /// <summary>Pack with AVX-512 transposes/copies (only the AVX-512 path, so the other paths' packers stay tested).</summary>
    public bool VectorPack { get; init; }
    public required delegate*<int, float*, float*, float*, nint, int, int, float, float, void> Kernel { get; init; }
    public required CacheSizes Caches { get; init; }
    public required string Origin { get; init; }

    public GemmBlocking Describe() => new(Isa, MR, NR, MC, KC, NC, Caches, Origin, Precision);

    /// <summary>Bytes of one packed element in <paramref name="precision"/>.</summary>
    public static int ElementSize(GemmPrecision precision) => precision switch
    {
        GemmPrecision.Fp32 => sizeof(float),
        GemmPrecision.Bf16 => sizeof(ushort),
        _ => throw new ArgumentOutOfRangeException(nameof(precision), $"no GEMM precision {precision}"),
    };

    private static readonly GemmIsa[] s_isas = [GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar];
    private static readonly GemmPrecision[] s_precisions = [GemmPrecision.Fp32, GemmPrecision.Bf16];

    private static readonly Lazy<GemmPlan>[] s_plans =
        [.. s_precisions.SelectMany(p => s_isas.Select(i => new Lazy<GemmPlan>(() => FromHost(i, p))))];

    /// <summary>The plan for <paramref name="isa"/> (a concrete path, not Auto) and <paramref name="precision"/> on this host.</summary>
    public static GemmPlan For(GemmIsa isa, GemmPrecision precision = GemmPrecision.Fp32)
    {
        int i = Array.IndexOf(s_isas, isa), p = Array.IndexOf(s_precisions, precision);
        if (i < 0) throw new ArgumentOutOfRangeException(nameof(isa), $"no GEMM plan for {isa}");
        if (p < 0) throw new ArgumentOutOfRangeException(nameof(precision), $"no GEMM precision {precision}");
        return s_plans[p * s_isas.Length + i].Value;
    }

    private static GemmPlan FromHost(GemmIsa isa, GemmPrecision precision)
    {
        var plan = Create(isa, CpuInfo.Current.Caches, precision);
        string? text = Environment.GetEnvironmentVariable(OverrideVariable);
        if (string.IsNullOrWhiteSpace(text)) return plan;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 3 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int mc) ||
            !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int kc) || !int.TryParse(parts[2], CultureInfo.InvariantCulture, out int nc) ||
            mc <= 0 || kc <= 0 || nc <= 0 || kc % KcGranule != 0)
            throw new InvalidOperationException(
                $"{OverrideVariable}=\"{text}\": expected \"MC,KC,NC\", three positive integers with KC a multiple of {KcGranule}");
        return Create(isa, plan.Caches, precision, mc, kc, nc, OverrideVariable);
    }

    /// <summary>
    /// The blocking for <paramref name="isa"/> given per-core cache sizes. The rule (Goto and van de Geijn 2008; Low et al.
    /// 2016, "Analytical modeling is enough for high-performance BLIS"), in this kernel's terms:
    /// <list type="bullet">
    /// <item>The packed A block (MC·KC elements of e bytes: 4 for fp32, 2 for bf16) is re-read from L2 once per B sliver,
    /// so it gets half of L2 (the other half holds the streaming B sliver, the C tiles and whatever the other loops touch):
    /// MC·KC·e ≤ L2/2. A 16-bit block holds twice the elements in the same bytes.</item>
    /// <item>Within that area, each step of k costs per multiply-add about 1/MC of a B element fetched from L3 (a B
    /// sliver serves MC rows) and 2/KC of a C element read and written (C is updated once per KC-deep pass). KC is the
    /// multiple of 256 (256 … 1024) minimizing 1/MC + 2/KC with MC = ⌊L2/2 / (e·KC)⌋ rounded down to MR; the continuous
    /// optimum is KC = 2·MC. 1 MiB of L2 gives KC 512, MC 252 (AVX-512); 2 MiB gives KC 768, MC 336.</item>
    /// <item>The B sliver (KC·NR floats, 64 KiB at KC 512, NR 32) is not held to L1: per step the kernel loads two zmm of
    /// B for 24 FMAs (≈ 11 bytes per cycle), well within L2's bandwidth, and the KC = 256 an L1-resident sliver would
    /// need doubles the C traffic; measured 3–7 % slower on Zen 5 and Zen 4.</item>
    /// <item>The packed B panel (KC·NC elements) is shared by all threads and re-read once per A block: it gets a quarter of
    /// the L3 share (the L3 is shared with other processes and holds A and C too), NC a multiple of NR in [4·NR, 8192].
    /// Without an L3 the panel gets half of L2.</item>
    /// </list>
    /// The register tile is the kernel's (12×32 AVX-512, 6×16 AVX2, 4×4 scalar). Explicit <paramref name="mc"/>,
    /// <paramref name="kc"/>, <paramref name="nc"/> override the rule (tests, <see cref="OverrideVariable"/>).
    /// </summary>
    public static GemmPlan Create(GemmIsa isa, CacheSizes caches, GemmPrecision precision = GemmPrecision.Fp32, int mc = 0, int kc = 0, int nc = 0,
        string origin = "cache rule")
    {
        int mr, nr;
        bool vectorPack = false, bf16 = precision == GemmPrecision.Bf16;
        int elementBytes = ElementSize(precision);
        delegate*<int, float*, float*, float*, nint, int, int, float, float, void> kernel;
        switch (isa)
        {
            case GemmIsa.Avx512:
                mr = GemmKernelAvx512.MR; nr = GemmKernelAvx512.NR; vectorPack = true;
                kernel = bf16 ? &GemmKernelBf16Avx512.Run : &GemmKernelAvx512.Run;
                break;
            case GemmIsa.Avx2:
                mr = GemmKernelAvx2.MR; nr = GemmKernelAvx2.NR;
                kernel = bf16 ? &GemmKernelBf16Avx2.Run : &GemmKernelAvx2.Run;
                break;
            case GemmIsa.Scalar:
                mr = GemmKernelScalar.MR; nr = GemmKernelScalar.NR;
                kernel = bf16 ? &GemmKernelBf16Scalar.Run : &GemmKernelScalar.Run;
                break;
            default: throw new ArgumentOutOfRangeException(nameof(isa), $"no GEMM plan for {isa}");
        }
        long aElements = Math.Max(caches.L2, 64 << 10) / 2 / elementBytes;
        int RowsFor(int depth) => (int)Math.Max(mr, aElements / depth / mr * mr);
        if (kc <= 0)
        {
            double best = double.MaxValue;
            for (int k = KcGranule; k <= 4 * KcGranule; k += KcGranule)
            {
                double cost = 1.0 / RowsFor(k) + 2.0 / k;
                if (cost < best) { best = cost; kc = k; }
            }
        }
        if (mc <= 0) mc = RowsFor(kc);
        if (nc <= 0)
        {
            long panelBytes = caches.L3 > 0 ? caches.L3 / 4 : Math.Max(caches.L2, 64 << 10) / 2;
            nc = (int)Math.Clamp(panelBytes / elementBytes / kc / nr * nr, 4 * nr, 8192 / nr * nr);
        }
        return new GemmPlan
        {
            Isa = isa, Precision = precision, MR = mr, NR = nr, MC = mc, KC = kc, NC = nc, Kernel = kernel, VectorPack = vectorPack, Caches = caches, Origin = origin,
        };
    }
}
