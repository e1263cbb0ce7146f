namespace Elongate.Kernels;

/// <summary>One KC×NC step of the blocked GEMM, as a value the parallel tasks share: task t packs MC block t / Splits of
/// op(A) into its own thread's buffer and sweeps column range t % Splits of the shared packed B panel.</summary>
internal unsafe struct GemmJob
{
    public GemmPlan Plan;
    public bool TransA;
    public float* A;
    public nint Lda;
    public bool TransB;
    public float* B;
    public nint Ldb;
    public float* C;
    public nint Ldc;
    public int M;
    public float Alpha, Beta;
    public float* Bp;
    public int Jc, Nc, Pc, Kc, Slivers, Splits;
    /// <summary>Row blocks and MR-row slivers of op(A): block i covers slivers [RowSlivers·i/IcBlocks, RowSlivers·(i+1)/IcBlocks).</summary>
    public int IcBlocks, RowSlivers;

    /// <summary>Packs slivers [s0, s1) of this step's op(B) panel into the shared buffer, in the plan's precision.</summary>
    public readonly void PackB(int s0, int s1)
    {
        if (Plan.Precision == GemmPrecision.Bf16)
            GemmPack16.PackB(B, Ldb, TransB, Pc, Kc, Jc, Nc, Plan.NR, s0, s1, (ushort*)Bp, Plan.VectorPack);
        else
            GemmPack.PackB(B, Ldb, TransB, Pc, Kc, Jc, Nc, Plan.NR, s0, s1, Bp, Plan.VectorPack);
    }

    /// <summary>Depth of a packed sliver: kc, or kc padded to even for 16-bit pair slivers.</summary>
    public static int PackedDepth(GemmPlan plan, int kc) => plan.Precision == GemmPrecision.Bf16 ? GemmPack16.PaddedDepth(kc) : kc;

    /// <summary>Floats of buffer that hold <paramref name="elements"/> packed elements of <paramref name="plan"/>'s precision.</summary>
    public static long BufferFloats(GemmPlan plan, long elements) => (elements * plan.ElementBytes + sizeof(float) - 1) / sizeof(float);

    public readonly void Run(int task)
    {
        var plan = Plan;
        int mr = plan.MR, nr = plan.NR, kc = Kc;
        int ic = task / Splits, sp = task % Splits;
        int i0 = (int)((long)RowSlivers * ic / IcBlocks) * mr;
        int mc = Math.Min((int)((long)RowSlivers * (ic + 1) / IcBlocks) * mr, M) - i0;
        int kcp = PackedDepth(plan, kc), eb = plan.ElementBytes;
        float* ap = GemmBuffer.A(BufferFloats(plan, (long)((mc + mr - 1) / mr * mr) * kcp));
        if (plan.Precision == GemmPrecision.Bf16) GemmPack16.PackA(A, Lda, TransA, i0, mc, Pc, kc, mr, (ushort*)ap, plan.VectorPack);
        else GemmPack.PackA(A, Lda, TransA, i0, mc, Pc, kc, mr, ap, plan.VectorPack);
        int q0 = (int)((long)Slivers * sp / Splits), q1 = (int)((long)Slivers * (sp + 1) / Splits);
        var kernel = plan.Kernel;
        for (int q = q0; q < q1; q++)
        {
            int jj = q * nr, cols = Math.Min(nr, Nc - jj);
            // Sliver offsets in bytes: s·kcp elements of eb bytes (the packers' layout).
            float* bq = (float*)((byte*)Bp + (long)jj * kcp * eb);
            float* cq = C + i0 * Ldc + Jc + jj;
            for (int ir = 0; ir < mc; ir += mr)
                kernel(kc, (float*)((byte*)ap + (long)ir * kcp * eb), bq, cq + ir * Ldc, Ldc, Math.Min(mr, mc - ir), cols, Alpha, Beta);
        }
    }
}
