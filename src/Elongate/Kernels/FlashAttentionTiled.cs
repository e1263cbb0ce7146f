using System.Buffers;
using System.Numerics.Tensors;

namespace Elongate.Kernels;

/// <summary>
/// The fp32 training kernels of <see cref="FlashAttention"/> (forward and backward, dense keys and values) with every
/// product done tile by tile through <see cref="TileGemm"/>, i.e. <see cref="Gemm"/>'s packed register-tile
/// micro-kernel: per (query tile, key tile) the forward forms S = Q·Kᵀ and O += P·V as two small GEMMs, the backward
/// S = Q·Kᵀ, dP = dO·Vᵀ, dV += Pᵀ·dO, dK += dSᵀ·Q and dQ += dS·K as five. The online softmax, masks and skipping rules
/// are those of the row-by-row kernel (same results up to rounding: the sums run in another order).
/// <para>
/// Parallelism. Forward: tasks are (batch, head, query tile), the latest (largest, under the causal mask) query tiles
/// dealt out first. Backward: tasks are (batch, key/value head, lane); lane l owns key tiles l, l + lanes, l + 2·lanes, …
/// (their dK, dV rows, so no two tasks write the same key row) and adds its dQ contribution into its own copy of dQ
/// (lane 0 into dQ itself); the copies are summed into dQ in lane order at the end. The number of lanes depends on the
/// shape only (enough tasks for a few cores even at batch 1 with one key/value head), never on the thread count, so
/// results are bit-identical for any number of threads. Extra memory: (lanes − 1) copies of dQ, linear in T.
/// </para>
/// </summary>
internal static unsafe class FlashAttentionTiled
{
    /// <summary>Tiles only pay off with a vector micro-kernel; without one the row-by-row kernel is used.</summary>
    public static bool Supported => Gemm.BestIsa != GemmIsa.Scalar;

    /// <summary>Below this many multiply-adds the tasks run on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 18;

    /// <summary>Backward tasks wanted per call (over batch × key/value heads × lanes): a few per core on small hosts.</summary>
    private const int TargetTasks = 4;

    private const int Padding = FlashAttention.PaddingSegment;

    /// <summary>Exponentials are taken over multiples of this many floats (one zmm): see the forward's scratch.</summary>
    private const int ExpBlock = 16;

    public static void Forward(float* o, float* lse, float* q, float* k, float* v, int batch, int seqLen, int nh, int nkv, int hd, int* seg, int tileSize)
    {
        int tile = Math.Min(tileSize, seqLen), tiles = (seqLen + tile - 1) / tile;
        var task = new ForwardTask
        {
            O = o, Lse = lse, Q = q, K = k, V = v, Seg = seg, B = batch, T = seqLen, Nh = nh, Nkv = nkv, Hd = hd, Tile = tile, Tiles = tiles,
            Scale = 1f / MathF.Sqrt(hd),
        };
        int count = batch * nh * tiles;
        long work = (long)batch * nh * seqLen * (seqLen / 2 + 1) * hd * 2;
        if (count == 1 || work < ParallelThreshold) for (int i = 0; i < count; i++) task.Run(i);
        else WorkerPool.Default.For(count, ref task);
    }

    public static void Backward(float* dq, float* dk, float* dv, float* dOut, float* q, float* k, float* v, float* o, float* lse,
        int batch, int seqLen, int nh, int nkv, int hd, int* seg, int tileSize)
    {
        int tile = Math.Min(tileSize, seqLen), tiles = (seqLen + tile - 1) / tile;
        int qDim = nh * hd;
        int lanes = Math.Clamp((TargetTasks + batch * nkv - 1) / (batch * nkv), 1, Math.Min(TargetTasks, tiles));
        long rowsQ = (long)batch * seqLen * qDim;
        var d = ArrayPool<float>.Shared.Rent(batch * nh * seqLen);
        float[]? copies = lanes > 1 ? ArrayPool<float>.Shared.Rent(checked((int)((lanes - 1) * rowsQ))) : null;
        try
        {
            fixed (float* pd = d, pc = copies)
            {
                // D_t = dO_t · O_t per (batch, head, query), the softmax-backward correction (0 for padding rows).
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < seqLen; t++)
                    {
                        long row = (long)b * seqLen + t;
                        bool pad = seg != null && seg[row] == Padding;
                        for (int h = 0; h < nh; h++)
                        {
                            float dot = 0f;
                            if (!pad)
                            {
                                // The micro-kernel's own order (one FMA chain over the head dimension, from 0): D_t is then
                                // bit-equal to the dP entry of a key whose value row equals O_t, so with a single visible
                                // key (O = v exactly) dS is exactly 0, as in exact arithmetic.
                                float* x = dOut + row * qDim + h * hd, y = o + row * qDim + h * hd;
                                for (int i = 0; i < hd; i++) dot = MathF.FusedMultiplyAdd(x[i], y[i], dot);
                            }
                            pd[((long)b * nh + h) * seqLen + t] = dot;
                        }
                    }
                if (pc != null) new Span<float>(pc, (int)((lanes - 1) * rowsQ)).Clear();
                var task = new BackwardTask
                {
                    DQ = dq, DK = dk, DV = dv, DO = dOut, Q = q, K = k, V = v, Lse = lse, D = pd, Copies = pc, Seg = seg,
                    B = batch, T = seqLen, Nh = nh, Nkv = nkv, Hd = hd, Tile = tile, Tiles = tiles, Lanes = lanes, Scale = 1f / MathF.Sqrt(hd),
                };
                int count = batch * nkv * lanes;
                long work = (long)batch * nh * seqLen * (seqLen / 2 + 1) * hd * 5;
                if (count == 1 || work < ParallelThreshold) for (int i = 0; i < count; i++) task.Run(i);
                else WorkerPool.Default.For(count, ref task);
                for (int l = 1; l < lanes; l++)
                {
                    var copy = new ReadOnlySpan<float>(pc + (l - 1) * rowsQ, (int)rowsQ);
                    var target = new Span<float>(dq, (int)rowsQ);
                    TensorPrimitives.Add(target, copy, target);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(d);
            if (copies != null) ArrayPool<float>.Shared.Return(copies);
        }
    }

    /// <summary>[min, max] of the non-padding segment ids of rows [r0, r0 + n) (min &gt; max when all are padding).</summary>
    private static (int Min, int Max) SegmentRange(int* seg, int r0, int n)
    {
        int lo = int.MaxValue, hi = int.MinValue;
        for (int c = 0; c < n; c++)
        {
            int id = seg[r0 + c];
            if (id == Padding) continue;
            if (id < lo) lo = id;
            if (id > hi) hi = id;
        }
        return (lo, hi);
    }

    /// <summary>
    /// One (batch, head, query tile) of the forward. Scores are formed transposed, Sᵀ = K·Qᵀ [keys × queries], so that
    /// the online-softmax statistics of the tile's queries are vectors (one lane per query): the column maxima, the
    /// exponentials (one call over the whole tile) and the column sums are whole-tile vector operations, and Sᵀ is
    /// already in the layout the P·V product packs with plain copies.
    /// </summary>
    private struct ForwardTask : IWorkerTask
    {
        public float* O, Lse, Q, K, V;
        public int* Seg;
        public int B, T, Nh, Nkv, Hd, Tile, Tiles;
        public float Scale;

        public readonly void Run(int index)
        {
            // Latest query tiles first: under the causal mask their work grows with the tile index, so dealing the big
            // ones out first lets the small ones even out the end (longest-processing-time order).
            int bh = index % (B * Nh), qTile = Tiles - 1 - index / (B * Nh);
            int b = bh / Nh, h = bh % Nh, hd = Hd, tile = Tile, g = h / (Nh / Nkv);
            int qDim = Nh * hd, kvDim = Nkv * hd;
            int q0 = qTile * tile, qn = Math.Min(tile, T - q0);
            long rowBase = (long)b * T;
            int* seg = Seg == null ? null : Seg + rowBase;
            float* qBase = Q + (rowBase + q0) * qDim + h * hd;

            long qbn = TileGemm.BSize(hd, tile), kan = TileGemm.ASize(tile, hd), vbn = TileGemm.BSize(tile, hd), pan = TileGemm.ASize(tile, tile);
            // Exponentials run over lengths rounded up to a multiple of ExpBlock, so every element takes the same
            // vector code path whatever the tile's size (a padded sequence's real rows stay bit-identical).
            int stn = TileGemm.RoundUp(tile * tile, ExpBlock), vn = TileGemm.RoundUp(tile, ExpBlock);
            float* qb = GemmBuffer.Tile(qbn + kan + vbn + stn + pan + (long)tile * hd + 5L * vn);
            float* ka = qb + qbn, vb = ka + kan, st = vb + vbn, pa = st + stn, acc = pa + pan;
            float* m = acc + tile * hd, l = m + vn, mNew = l + vn, mSafe = mNew + vn, corr = mSafe + vn;
            var mSpan = new Span<float>(m, qn);
            var lSpan = new Span<float>(l, qn);
            var mNewSpan = new Span<float>(mNew, qn);

            int qMin = int.MinValue, qMax = int.MaxValue;
            if (seg != null) (qMin, qMax) = SegmentRange(seg, q0, qn);
            if (qMin <= qMax)
            {
                TileGemm.PackB(qBase, qDim, true, hd, qn, qb); // Qᵀ: depth hd, one column per query
                mSpan.Fill(float.NegativeInfinity);
                lSpan.Clear();
                new Span<float>(acc, qn * hd).Clear();
                int keyEnd = q0 + qn;
                for (int k0 = 0; k0 < keyEnd; k0 += tile)
                {
                    int kn = Math.Min(tile, keyEnd - k0);
                    int segMin = int.MinValue, segMax = int.MaxValue;
                    if (seg != null)
                    {
                        (segMin, segMax) = SegmentRange(seg, k0, kn);
                        // No key of this tile can match any row of the query tile: skip it without a score.
                        if (segMin > segMax || qMax < segMin || qMin > segMax) continue;
                    }
                    float* kBase = K + (rowBase + k0) * kvDim + g * hd, vBase = V + (rowBase + k0) * kvDim + g * hd;
                    TileGemm.PackA(kBase, kvDim, false, kn, hd, ka);
                    // Sᵀ[key, query], dense rows of qn; register tiles wholly after the causal diagonal are skipped (masked below).
                    TileGemm.MultiplyMaskedBelow(ka, qb, kn, qn, hd, st, qn, Scale, 0f, q0 - k0);
                    // Causal mask: key k0 + p is hidden from queries before it.
                    if (k0 + kn - 1 > q0)
                        for (int p = 0; p < kn; p++)
                        {
                            int hidden = Math.Min(qn, k0 + p - q0);
                            if (hidden > 0) new Span<float>(st + p * qn, hidden).Fill(float.NegativeInfinity);
                        }
                    if (seg != null)
                        for (int p = 0; p < kn; p++)
                        {
                            int key = seg[k0 + p];
                            float* row = st + p * qn;
                            for (int r = 0; r < qn; r++)
                                if (seg[q0 + r] != key || key == Padding) row[r] = float.NegativeInfinity;
                        }
                    // Column maxima → new running maxima; a query that has seen nothing yet keeps −∞ and subtracts 0,
                    // so its masked scores give exp(−∞) = 0 rather than NaN.
                    mSpan.CopyTo(mNewSpan);
                    TileRows.MaxInto(st, kn, qn, mNew);
                    for (int r = 0; r < qn; r++) mSafe[r] = float.IsNegativeInfinity(mNew[r]) ? 0f : mNew[r];
                    var corrAll = new Span<float>(corr, TileGemm.RoundUp(qn, ExpBlock));
                    TensorPrimitives.Subtract(new ReadOnlySpan<float>(m, corrAll.Length), new ReadOnlySpan<float>(mSafe, corrAll.Length), corrAll);
                    TensorPrimitives.Exp(corrAll, corrAll);
                    TileRows.SubtractFrom(st, kn, qn, mSafe);
                    var all = new Span<float>(st, TileGemm.RoundUp(kn * qn, ExpBlock));
                    TensorPrimitives.Exp(all, all);
                    TensorPrimitives.Multiply(lSpan, new ReadOnlySpan<float>(corr, qn), lSpan);
                    TileRows.SumInto(st, kn, qn, l);
                    for (int r = 0; r < qn; r++)
                        if (corr[r] != 1f)
                        {
                            var a = new Span<float>(acc + r * hd, hd);
                            TensorPrimitives.Multiply(a, corr[r], a);
                        }
                    mNewSpan.CopyTo(mSpan);
                    TileGemm.PackA(st, qn, true, qn, kn, pa); // P = (Pᵀ)ᵀ: queries as rows, plain copies
                    TileGemm.PackB(vBase, kvDim, false, kn, hd, vb);
                    if (seg != null)
                        for (int c = 0; c < kn; c++)
                            if (seg[k0 + c] == Padding) TileGemm.ZeroBStep(vb, kn, hd, c); // 0·NaN would poison the sum
                    TileGemm.MultiplyAddLowerA(pa, vb, qn, hd, kn, acc, hd, q0 - k0);
                }
            }
            for (int r = 0; r < qn; r++)
            {
                int t = q0 + r;
                var outRow = new Span<float>(O + (rowBase + t) * qDim + h * hd, hd);
                float* lseAt = Lse == null ? null : Lse + ((long)b * Nh + h) * T + t;
                if (qMin > qMax || (seg != null && seg[t] == Padding))
                {
                    outRow.Clear();
                    if (lseAt != null) *lseAt = 0f;
                    continue;
                }
                // Every non-padding query sees at least itself, so l > 0.
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + r * hd, hd), 1f / l[r], outRow);
                if (lseAt != null) *lseAt = m[r] + MathF.Log(l[r]);
            }
        }
    }

    private struct BackwardTask : IWorkerTask
    {
        public float* DQ, DK, DV, DO, Q, K, V, Lse, D, Copies;
        public int* Seg;
        public int B, T, Nh, Nkv, Hd, Tile, Tiles, Lanes;
        public float Scale;

        public readonly void Run(int index)
        {
            int lane = index % Lanes, bg = index / Lanes, b = bg / Nkv, g = bg % Nkv;
            int hd = Hd, tile = Tile, group = Nh / Nkv, qDim = Nh * hd, kvDim = Nkv * hd;
            long rowBase = (long)b * T;
            int* seg = Seg == null ? null : Seg + rowBase;
            float* dqOut = lane == 0 ? DQ : Copies + (lane - 1) * ((long)B * T * qDim);

            // Scores and their gradients are formed transposed, [keys × queries] (Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ), so the
            // per-query statistics (lse, D) are vectors across each row and P, dS are whole-tile vector passes.
            long an = TileGemm.ASize(tile, hd), k2n = TileGemm.BSize(tile, hd), bqn = TileGemm.BSize(hd, tile);
            int stn = TileGemm.RoundUp(tile * tile, ExpBlock);
            long apn = TileGemm.ASize(tile, tile), bpn = TileGemm.BSize(tile, hd);
            float* ka = GemmBuffer.Tile(2 * an + k2n + 2 * bqn + 2L * stn + apn + bpn + 2L * tile * hd);
            float* va = ka + an, k2p = va + an, qb = k2p + k2n, dob = qb + bqn, st = dob + bqn, dpt = st + stn;
            float* ap = dpt + stn, bp = ap + apn, dKt = bp + bpn, dVt = dKt + tile * hd;

            for (int kb = lane; kb < Tiles; kb += Lanes)
            {
                int k0 = kb * tile, kn = Math.Min(tile, T - k0);
                int segMin = int.MinValue, segMax = int.MaxValue;
                if (seg != null)
                {
                    (segMin, segMax) = SegmentRange(seg, k0, kn);
                    if (segMin > segMax) continue; // only padding keys: nothing attends to them
                }
                float* kBase = K + (rowBase + k0) * kvDim + g * hd, vBase = V + (rowBase + k0) * kvDim + g * hd;
                TileGemm.PackA(kBase, kvDim, false, kn, hd, ka);  // K for Sᵀ = K·Qᵀ
                TileGemm.PackA(vBase, kvDim, false, kn, hd, va);  // V for dPᵀ = V·dOᵀ
                TileGemm.PackB(kBase, kvDim, false, kn, hd, k2p); // K for dQ = dS·K
                if (seg != null)
                    for (int c = 0; c < kn; c++)
                        if (seg[k0 + c] == Padding) TileGemm.ZeroBStep(k2p, kn, hd, c);
                new Span<float>(dKt, 2 * tile * hd).Clear();
                for (int hh = 0; hh < group; hh++)
                {
                    int h = g * group + hh;
                    float* lseH = Lse + ((long)b * Nh + h) * T, dH = D + ((long)b * Nh + h) * T;
                    // Causal: only queries at or after the tile's first key see it; query tiles start at k0.
                    for (int q0 = k0; q0 < T; q0 += tile)
                    {
                        int qn = Math.Min(tile, T - q0);
                        if (seg != null)
                        {
                            var (qMin, qMax) = SegmentRange(seg, q0, qn);
                            if (qMin > qMax || qMax < segMin || qMin > segMax) continue;
                        }
                        float* qBase = Q + (rowBase + q0) * qDim + h * hd, doBase = DO + (rowBase + q0) * qDim + h * hd;
                        TileGemm.PackB(qBase, qDim, true, hd, qn, qb);
                        TileGemm.PackB(doBase, qDim, true, hd, qn, dob);
                        // Sᵀ and dPᵀ; register tiles wholly after the causal diagonal are skipped (cleared below).
                        TileGemm.MultiplyMaskedBelow(ka, qb, kn, qn, hd, st, qn, Scale, 0f, q0 - k0);
                        TileGemm.MultiplyMaskedBelow(va, dob, kn, qn, hd, dpt, qn, 1f, 0f, q0 - k0);
                        // Pᵀ = exp(Sᵀ − lse), dSᵀ = Pᵀ ⊙ (dPᵀ − D)·scale, then the masked entries set to 0 (assigned, not
                        // multiplied: a masked key or query may be NaN padding).
                        TileRows.SubtractFrom(st, kn, qn, lseH + q0);
                        var pAll = new Span<float>(st, TileGemm.RoundUp(kn * qn, ExpBlock));
                        TensorPrimitives.Exp(pAll, pAll);
                        TileRows.SubtractFrom(dpt, kn, qn, dH + q0);
                        var pTile = new ReadOnlySpan<float>(st, kn * qn);
                        var dsTile = new Span<float>(dpt, kn * qn);
                        TensorPrimitives.Multiply(dsTile, pTile, dsTile);
                        TensorPrimitives.Multiply(dsTile, Scale, dsTile);
                        if (k0 + kn - 1 > q0)
                            for (int p = 0; p < kn; p++)
                            {
                                int hidden = Math.Min(qn, k0 + p - q0);
                                if (hidden <= 0) continue;
                                new Span<float>(st + p * qn, hidden).Clear();
                                new Span<float>(dpt + p * qn, hidden).Clear();
                            }
                        if (seg != null)
                            for (int p = 0; p < kn; p++)
                            {
                                int key = seg[k0 + p];
                                for (int r = 0; r < qn; r++)
                                    if (seg[q0 + r] != key || key == Padding) { st[p * qn + r] = 0f; dpt[p * qn + r] = 0f; }
                            }
                        // dV += Pᵀ·dO
                        TileGemm.PackA(st, qn, false, kn, qn, ap);
                        TileGemm.PackB(doBase, qDim, false, qn, hd, bp);
                        ZeroPaddingSteps(seg, q0, qn, hd, bp);
                        TileGemm.MultiplyAddUpperA(ap, bp, kn, hd, qn, dVt, hd, q0 - k0);
                        // dK += dSᵀ·Q
                        TileGemm.PackA(dpt, qn, false, kn, qn, ap);
                        TileGemm.PackB(qBase, qDim, false, qn, hd, bp);
                        ZeroPaddingSteps(seg, q0, qn, hd, bp);
                        TileGemm.MultiplyAddUpperA(ap, bp, kn, hd, qn, dKt, hd, q0 - k0);
                        // dQ += dS·K
                        TileGemm.PackA(dpt, qn, true, qn, kn, ap);
                        TileGemm.MultiplyAddLowerA(ap, k2p, qn, hd, kn, dqOut + (rowBase + q0) * qDim + h * hd, qDim, q0 - k0);
                    }
                }
                for (int c = 0; c < kn; c++)
                {
                    long off = (rowBase + k0 + c) * kvDim + g * hd;
                    var dkRow = new Span<float>(DK + off, hd);
                    var dvRow = new Span<float>(DV + off, hd);
                    TensorPrimitives.Add(dkRow, new ReadOnlySpan<float>(dKt + c * hd, hd), dkRow);
                    TensorPrimitives.Add(dvRow, new ReadOnlySpan<float>(dVt + c * hd, hd), dvRow);
                }
            }
        }

        /// <summary>Padding query rows may hold anything (NaN): their k steps of a packed B operand must be zero, not 0·NaN.</summary>
        private static void ZeroPaddingSteps(int* seg, int q0, int qn, int hd, float* bp)
        {
            if (seg == null) return;
            for (int r = 0; r < qn; r++)
                if (seg[q0 + r] == Padding) TileGemm.ZeroBStep(bp, qn, hd, r);
        }
    }
}
