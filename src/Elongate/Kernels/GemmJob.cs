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

    /// <summary>Packs slivers [s0, s1) of this step's op(B) panel into the shared buffer.</summary>
    public readonly void PackB(int s0, int s1) =>
        GemmPack.PackB(B, Ldb, TransB, Pc, Kc, Jc, Nc, Plan.NR, s0, s1, Bp, Plan.VectorPack);

    public readonly void Run(int task)
    {
        var plan = Plan;
        int mr = plan.MR, nr = plan.NR, kc = Kc;
        int ic = task / Splits, sp = task % Splits;
        int i0 = (int)((long)RowSlivers * ic / IcBlocks) * mr;
        int mc = Math.Min((int)((long)RowSlivers * (ic + 1) / IcBlocks) * mr, M) - i0;
        float* ap = GemmBuffer.A((long)((mc + mr - 1) / mr * mr) * kc);
        GemmPack.PackA(A, Lda, TransA, i0, mc, Pc, kc, mr, ap, plan.VectorPack);
        int q0 = (int)((long)Slivers * sp / Splits), q1 = (int)((long)Slivers * (sp + 1) / Splits);
        var kernel = plan.Kernel;
        for (int q = q0; q < q1; q++)
        {
            int jj = q * nr, cols = Math.Min(nr, Nc - jj);
            float* bq = Bp + (long)jj * kc;
            float* cq = C + i0 * Ldc + Jc + jj;
            for (int ir = 0; ir < mc; ir += mr)
                kernel(kc, ap + (long)ir * kc, bq, cq + ir * Ldc, Ldc, Math.Min(mr, mc - ir), cols, Alpha, Beta);
        }
    }
}
