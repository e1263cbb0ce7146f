using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// The prompt path of <see cref="QuantMatMul"/>: y = x·Wᵀ for many activation rows, with W in a GGML storage type, run as
/// <see cref="Gemm"/>'s own blocked loop (same <see cref="GemmPlan"/>, packers and micro-kernels) except that each
/// KC×NC panel of op(B) = Wᵀ is produced by dequantizing the weight rows straight into the shared packed-panel buffer:
/// one NR-row sliver at a time into a small per-thread fp32 scratch (NR·KC floats, L2-resident) that the GEMM's
/// NT packer then transposes into place.
/// <para>
/// Why not a dequantized fp32 panel per worker fed to <see cref="Gemm.Multiply"/> (the former path): with 128-row panels
/// every panel re-packed all of x for its 128 output columns, and the per-panel GEMM re-packed the panel once more; here
/// x is packed once per KC×NC step for up to NC = 2048 output columns, the weights are read and dequantized exactly once,
/// and both cores share every step (dequantization split by slivers, the sweep by row block × column range as in
/// <see cref="Gemm"/>), so shapes with few output rows (256×2048 K/V projections) keep both cores busy too.
/// </para>
/// Every output sums its products in the same order as <see cref="Gemm.Multiply"/> on the dequantized matrix (same KC
/// blocking and kernel), whatever the thread count.
/// </summary>
internal static unsafe class QuantGemm
{
    /// <summary>
    /// y[t·outDim + o] = Σ_i x[t·inDim + i]·W[o, i]; W is <paramref name="outDim"/> rows of <paramref name="rowBytes"/>
    /// bytes of <paramref name="type"/>. <paramref name="isa"/> picks the GEMM kernel (Auto or a supported path);
    /// the scalar kernel also dequantizes with the scalar reference code, so tests cover that path end to end.
    /// </summary>
    public static void Multiply(float* y, float* x, int rows, byte* w, GgmlType type, int outDim, int inDim, long rowBytes,
        GemmIsa isa, WorkerPool pool, int threads)
    {
        if (isa == GemmIsa.Auto) isa = Gemm.BestIsa;
        var plan = GemmPlan.For(isa);
        int mr = plan.MR, nr = plan.NR;
        int bs = GgmlTypes.BlockSize(type), ts = GgmlTypes.TypeSize(type);
        // KC must cut rows on block boundaries: every plan's KC is a multiple of 256, the k-quant super-block.
        if (inDim > plan.KC && plan.KC % bs != 0)
            throw new InvalidOperationException($"GEMM depth block {plan.KC} does not hold whole {type} blocks");
        int kcMax = Math.Min(plan.KC, inDim), ncMax = Math.Min(plan.NC, outDim);
        float* bp = GemmBuffer.B((long)(ncMax + nr - 1) / nr * nr * kcMax);
        var job = new GemmJob
        {
            Plan = plan, TransA = false, A = x, Lda = inDim, TransB = true, C = y, Ldc = outDim, M = rows, Alpha = 1f, Beta = 0f, Bp = bp,
        };
        var pack = new PackTask
        {
            W = w, Type = type, RowBytes = rowBytes, BlockSize = bs, TypeSize = ts, Bp = bp, Nr = nr, VectorPack = plan.VectorPack,
            DequantIsa = isa == GemmIsa.Scalar ? GemmIsa.Scalar : DequantizeRows.BestIsa,
        };
        int rowSlivers = (rows + mr - 1) / mr;
        for (int jc = 0; jc < outDim; jc += plan.NC)
        {
            int nc = Math.Min(plan.NC, outDim - jc);
            int slivers = (nc + nr - 1) / nr;
            for (int pc = 0; pc < inDim; pc += plan.KC)
            {
                int kc = Math.Min(plan.KC, inDim - pc);
                job.Jc = jc; job.Nc = nc; job.Pc = pc; job.Kc = kc; job.Slivers = slivers;
                job.Beta = pc == 0 ? 0f : 1f;
                // Row blocks as in Gemm.Blocked: MC-sized, a multiple of the thread count, at most one per sliver of rows.
                int numIc = (rows + plan.MC - 1) / plan.MC;
                if (threads > 1) numIc = (numIc + threads - 1) / threads * threads;
                numIc = Math.Min(numIc, rowSlivers);
                job.IcBlocks = numIc; job.RowSlivers = rowSlivers;
                pack.Jc = jc; pack.Nc = nc; pack.Pc = pc; pack.Kc = kc;
                if (threads == 1)
                {
                    job.Splits = 1;
                    for (int q = 0; q < slivers; q++) pack.Run(q);
                    for (int t = 0; t < numIc; t++) job.Run(t);
                }
                else
                {
                    // Slivers are claimed one at a time so a core slowed by a neighbour still finishes the panel evenly.
                    pool.For(slivers, ref pack, threads);
                    job.Splits = Math.Clamp((4 * threads + numIc - 1) / numIc, 1, Math.Max(1, slivers / 4));
                    var sweep = new SweepTask { Job = job };
                    pool.For(numIc * job.Splits, ref sweep, threads);
                }
            }
        }
    }

    /// <summary>Dequantizes NR weight rows × KC depth into this thread's scratch and packs them as sliver q of the panel.</summary>
    private struct PackTask : IWorkerTask
    {
        public byte* W;
        public GgmlType Type;
        public GemmIsa DequantIsa;
        public long RowBytes;
        public int BlockSize, TypeSize, Nr, Jc, Nc, Pc, Kc;
        public float* Bp;
        public bool VectorPack;

        public readonly void Run(int q)
        {
            int cols = Math.Min(Nr, Nc - q * Nr), kc = Kc;
            float* tmp = QuantScratch.Panel((long)Nr * kc);
            byte* src = W + (Jc + (long)q * Nr) * RowBytes + (long)(Pc / BlockSize) * TypeSize;
            int bytes = kc / BlockSize * TypeSize;
            for (int r = 0; r < cols; r++)
                GgmlQuants.Dequantize(Type, new ReadOnlySpan<byte>(src + r * RowBytes, bytes), new Span<float>(tmp + (long)r * kc, kc), DequantIsa);
            GemmPack.PackB(tmp, kc, true, 0, kc, 0, cols, Nr, 0, 1, Bp + (long)q * Nr * kc, VectorPack);
        }
    }

    private struct SweepTask : IWorkerTask
    {
        public GemmJob Job;
        public readonly void Run(int t) => Job.Run(t);
    }
}
