using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Elongate.Kernels;

/// <summary>
/// Memory-efficient causal grouped-query attention (FlashAttention-2, Dao 2023) on the CPU: keys and values are
/// visited in tiles while each query row keeps a running maximum, a running softmax denominator and an unnormalized
/// output (online softmax), so no T×T score matrix exists at any time. The forward saves only the output and one
/// log-sum-exp per (head, query); the backward recomputes each score tile from Q, K and that statistic, with key
/// tiles as the outer loop so a tile's dK and dV stay in cache while every query row that sees it passes by.
/// Activation memory is O(T·d). An optional per-token segment id confines attention to one packed document;
/// <see cref="PaddingSegment"/> marks padding, whose rows are skipped (output, log-sum-exp and gradients zero) and which
/// no other row sees, and key tiles whose segment ids cannot match a query's are skipped without computing a score,
/// so a padded or packed sequence costs about the attention work of its examples alone (see <see cref="Forward{T}"/>).
/// Layouts: q, output [B, T, n_heads·d]; k, v [B, T, n_kv_heads·d]; logSumExp [B, n_heads, T].
/// <see cref="ForwardCached{T}"/> is the same forward for inference: n new queries at an offset into a KV cache.
/// The per-tile products are <see cref="TileMath"/>'s vectorized loops, except in the fp32 training kernels
/// (<see cref="Forward{T}"/>, <see cref="Backward{T}"/> with T = float on an AVX2 or AVX-512 CPU), which run every tile
/// product through the GEMM's register-tile micro-kernel (<see cref="FlashAttentionTiled"/>): same results up to fp32
/// rounding, several times faster.
/// </summary>
public static class FlashAttention
{
    /// <summary>Key (and query) rows per tile: 64 rows of a 64-wide head is 16 KiB of fp32, an L1-sized tile.</summary>
    public const int DefaultTileSize = 64;

    /// <summary>
    /// Tile size for the fp32 training kernels at sequence length <paramref name="seqLen"/>: T/8 rounded down to a
    /// multiple of 32, within [64, 128]. Larger tiles re-pack each query tile for fewer key tiles in the backward and fill
    /// the 12×32 register tile better (measured at T = 4096, AMD EPYC Zen 4, B = 1: backward 64 → 128 about 1.4× faster);
    /// short sequences keep 64 so the wasted upper half of the diagonal tiles stays a small part of the causal work
    /// (at T = 8·tile the masked halves of the diagonal tiles are 1/9 of the computed area).
    /// </summary>
    public static int TrainingTileSize(int seqLen) => Math.Clamp(seqLen / 8 / 32 * 32, DefaultTileSize, 2 * DefaultTileSize);

    /// <summary>
    /// Segment id of padding tokens: such a query row attends to nothing (its output and log-sum-exp are 0 and it
    /// receives no gradient) and no row attends to it. The training data's padding id
    /// (<c>Elongate.Data.FineTuneSequence.PaddingSegment</c>) is this value.
    /// </summary>
    public const int PaddingSegment = -1;

    /// <summary>Attention output and per-row log-sum-exp of the scaled, masked scores.</summary>
    /// <remarks>
    /// With segments, work is skipped where every score would be masked anyway: a padding row
    /// (<see cref="PaddingSegment"/>) computes nothing, and a key tile is skipped for a query row whose segment id lies
    /// outside the tile's [min, max] of non-padding ids (for packed examples with increasing ids that is every tile
    /// wholly before the row's example). Skipped scores are exactly those that would have been −∞, so results are the
    /// same bits as computing and masking them.
    /// </remarks>
    /// <param name="segments">Per-token document id [B·T], or empty for plain causal attention; <see cref="PaddingSegment"/> marks padding.</param>
    /// <param name="tileSize">Rows per tile; any positive value gives the same result up to rounding.</param>
    public static unsafe void Forward<T>(Span<T> output, Span<T> logSumExp, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        AttentionShape shape, ReadOnlySpan<int> segments = default, int tileSize = DefaultTileSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        shape.Check(Math.Min(q.Length, output.Length), Math.Min(k.Length, v.Length), segments);
        if (logSumExp.Length < (long)shape.Batch * shape.NumHeads * shape.SeqLen) throw new ArgumentException("logSumExp is shorter than [B, n_heads, T]");
        if (tileSize <= 0) throw new ArgumentOutOfRangeException(nameof(tileSize));
        fixed (T* po = output, plse = logSumExp, pq = q, pk = k, pv = v)
        fixed (int* pseg = segments)
        {
            if (typeof(T) == typeof(float) && FlashAttentionTiled.Supported)
            {
                FlashAttentionTiled.Forward((float*)po, (float*)plse, (float*)pq, (float*)pk, (float*)pv, shape.Batch, shape.SeqLen,
                    shape.NumHeads, shape.NumKvHeads, shape.HeadDim, segments.IsEmpty ? null : pseg, tileSize);
                return;
            }
            ForwardCore(po, plse, pq, pk, pv, shape.Batch, shape.SeqLen, 0, shape.SeqLen, shape.NumHeads, shape.NumKvHeads, shape.HeadDim,
                segments.IsEmpty ? null : pseg, tileSize);
        }
    }

    /// <summary>
    /// Forward-only causal attention of <paramref name="queries"/> new rows at positions
    /// <paramref name="queryOffset"/> .. <paramref name="queryOffset"/> + queries − 1 against a key/value cache that
    /// holds positions 0 .. <paramref name="queryOffset"/> + queries − 1 (prompt processing and decoding). Query row r
    /// sees keys 0 .. queryOffset + r. Key tiles start at absolute multiples of <paramref name="tileSize"/> and each row's
    /// arithmetic does not depend on which other rows share the call, so a prompt processed at once and the same
    /// tokens fed one by one give bit-identical outputs. No score matrix is formed: per task one tile² block.
    /// </summary>
    /// <param name="output">[queries, numHeads·headDim].</param>
    /// <param name="q">[queries, numHeads·headDim], already rotated.</param>
    /// <param name="keys">Cache [≥ queryOffset + queries, numKvHeads·headDim], already rotated.</param>
    /// <param name="values">Cache [≥ queryOffset + queries, numKvHeads·headDim].</param>
    /// <param name="maxThreads">At most this many threads of <see cref="WorkerPool.Default"/> (≤ 0: all).</param>
    public static unsafe void ForwardCached<T>(Span<T> output, ReadOnlySpan<T> q, ReadOnlySpan<T> keys, ReadOnlySpan<T> values,
        int queries, int queryOffset, int numHeads, int numKvHeads, int headDim, int tileSize = DefaultTileSize, int maxThreads = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (queries <= 0 || queryOffset < 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0 || numHeads % numKvHeads != 0)
            throw new ArgumentException($"bad cached attention shape: {queries} queries at offset {queryOffset}, {numHeads}/{numKvHeads} heads of {headDim}");
        if (tileSize <= 0) throw new ArgumentOutOfRangeException(nameof(tileSize));
        long qLen = (long)queries * numHeads * headDim, kvLen = ((long)queryOffset + queries) * numKvHeads * headDim;
        if (q.Length < qLen || output.Length < qLen || keys.Length < kvLen || values.Length < kvLen)
            throw new ArgumentException($"cached attention buffers too short: q {q.Length}, output {output.Length} need {qLen}; keys {keys.Length}, values {values.Length} need {kvLen}");
        int keyRows = queryOffset + queries;
        fixed (T* po = output, pq = q, pk = keys, pv = values)
            ForwardCore(po, null, pq, pk, pv, 1, queries, queryOffset, keyRows, numHeads, numKvHeads, headDim, null, tileSize, maxThreads: maxThreads);
    }

    /// <summary>
    /// <see cref="ForwardCached{T}"/> with the cache's keys and values stored as F16 or Q8_0 rows (see
    /// <see cref="KvRows"/>): each task expands only the key and value tile of its own head into fp32 scratch before
    /// using it, so the cache stays narrow and the conversion runs on every core, once per (head, query tile, key tile).
    /// </summary>
    public static unsafe void ForwardCached(Span<float> output, ReadOnlySpan<float> q, KvRows keys, KvRows values,
        int queries, int queryOffset, int numHeads, int numKvHeads, int headDim, int tileSize = DefaultTileSize, int maxThreads = 0)
    {
        if (queries <= 0 || queryOffset < 0 || numHeads <= 0 || numKvHeads <= 0 || headDim <= 0 || numHeads % numKvHeads != 0)
            throw new ArgumentException($"bad cached attention shape: {queries} queries at offset {queryOffset}, {numHeads}/{numKvHeads} heads of {headDim}");
        if (tileSize <= 0) throw new ArgumentOutOfRangeException(nameof(tileSize));
        int keyRows = queryOffset + queries, kvDim = numKvHeads * headDim;
        long qLen = (long)queries * numHeads * headDim;
        if (q.Length < qLen || output.Length < qLen) throw new ArgumentException($"cached attention buffers too short: q {q.Length}, output {output.Length} need {qLen}");
        keys.Check(keyRows, kvDim, headDim, nameof(keys));
        values.Check(keyRows, kvDim, headDim, nameof(values));
        fixed (float* po = output, pq = q)
            ForwardCore(po, null, pq, (float*)keys.Data, (float*)values.Data, 1, queries, queryOffset, keyRows, numHeads, numKvHeads, headDim, null,
                tileSize, keys.Type, keys.RowBytes, maxThreads);
    }

    /// <summary>
    /// The one forward kernel. Per batch b: nq query rows at absolute positions qOff..qOff+nq−1 (Q row b·nq + r), key and
    /// value rows 0..keyRows−1 (row b·keyRows + s), segment ids indexed like keys. Tasks are (batch, head, query tile);
    /// each writes only its own output rows and log-sum-exp entries.
    /// </summary>
    private static unsafe void ForwardCore<T>(T* po, T* plse, T* pq, T* pk, T* pv, int B, int nq, int qOff, int keyRows,
        int nh, int nkv, int hd, int* pseg, int tileSize, KvRowType kvType = KvRowType.Dense, int kvRowBytes = 0, int maxThreads = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int qDim = nh * hd, kvDim = nkv * hd, group = nh / nkv;
        int tile = Math.Min(tileSize, keyRows), tiles = (nq + tile - 1) / tile;
        T scale = T.One / T.Sqrt(T.CreateChecked(hd));
        bool stored = kvType != KvRowType.Dense;
        // Stored (F16/Q8_0) rows: each task expands its head's key and value tile into two more tile × hd blocks.
        int scratchLength = tile * tile + 2 * tile + tile * hd + (stored ? 2 * tile * hd : 0);
        nint op = (nint)po, lp = (nint)plse, qp = (nint)pq, kp = (nint)pk, vp = (nint)pv, sp = (nint)pseg;
        void Work(int task, T[] scratch)
        {
            int qTile = task % tiles, h = task / tiles % nh, b = task / tiles / nh, g = h / group;
            T* O = (T*)op, Q = (T*)qp, K = (T*)kp, V = (T*)vp, L = (T*)lp;
            int* seg = (int*)sp;
            int q0 = qTile * tile, qn = Math.Min(tile, nq - q0);
            fixed (T* scratchBase = scratch)
            {
                T* S = scratchBase, m = S + tile * tile, l = m + tile, acc = l + tile, kConv = acc + tile * hd, vConv = kConv + tile * hd;
                for (int r = 0; r < qn; r++) { m[r] = T.NegativeInfinity; l[r] = T.Zero; }
                new Span<T>(acc, qn * hd).Clear();
                long kvBase = (long)b * keyRows;
                // Causal: this query tile sees keys 0 .. qOff+q0+qn−1 only. Key tiles are aligned to absolute position
                // 0, so a row meets the same tiles with the same visible counts whatever rows it is grouped with.
                int keyEnd = qOff + q0 + qn;
                // Padding rows attend to nothing; a tile made only of padding rows does no work at all.
                int active = qn;
                if (seg != null)
                {
                    active = 0;
                    for (int r = 0; r < qn; r++)
                        if (seg[kvBase + qOff + q0 + r] != PaddingSegment) active++;
                }
                for (int k0 = 0; k0 < keyEnd && active > 0; k0 += tile)
                {
                    int kn = Math.Min(tile, keyEnd - k0);
                    // Range of the tile's non-padding segment ids: a row whose id lies outside it sees none of its keys.
                    int segMin = int.MaxValue, segMax = int.MinValue;
                    if (seg != null)
                    {
                        for (int c = 0; c < kn; c++)
                        {
                            int id = seg[kvBase + k0 + c];
                            if (id == PaddingSegment) continue;
                            if (id < segMin) segMin = id;
                            if (id > segMax) segMax = id;
                        }
                        if (segMin > segMax) continue; // only padding keys
                    }
                    T* kTile, vTile;
                    long kStride = kvDim;
                    if (!stored)
                    {
                        kTile = K + (kvBase + k0) * kvDim + g * hd;
                        vTile = V + (kvBase + k0) * kvDim + g * hd;
                    }
                    else
                    {
                        KvRows.Expand(kvType, (byte*)kp, kvRowBytes, k0, kn, g, hd, (float*)kConv);
                        KvRows.Expand(kvType, (byte*)vp, kvRowBytes, k0, kn, g, hd, (float*)vConv);
                        kTile = kConv;
                        vTile = vConv;
                        kStride = hd;
                    }
                    for (int r = 0; r < qn; r++)
                    {
                        int t = qOff + q0 + r;                   // absolute position of this query
                        int visible = Math.Min(kn, t - k0 + 1); // keys k0 .. t of this tile
                        if (visible <= 0) continue;
                        if (seg != null)
                        {
                            int own = seg[kvBase + t];
                            if (own == PaddingSegment || own < segMin || own > segMax) continue;
                        }
                        T* s = S + r * tile;
                        TileMath.Dots(Q + ((long)b * nq + q0 + r) * qDim + h * hd, kTile, kStride, visible, hd, scale, s);
                        if (seg != null)
                            for (int c = 0; c < visible; c++)
                                if (seg[kvBase + k0 + c] != seg[kvBase + t]) s[c] = T.NegativeInfinity;
                        var sRow = new Span<T>(s, visible);
                        T rowMax = TensorPrimitives.Max<T>(sRow);
                        if (T.IsNegativeInfinity(rowMax)) continue; // every key of this tile is masked for this row
                        T mNew = T.Max(m[r], rowMax);
                        T correction = T.Exp(m[r] - mNew); // exp(−∞) = 0 on the row's first visible tile
                        var a = new Span<T>(acc + r * hd, hd);
                        if (correction != T.One) TensorPrimitives.Multiply(a, correction, a);
                        // p = exp(s − m) (masked entries become 0), then acc += p·V over the tile.
                        TensorPrimitives.Subtract(sRow, mNew, sRow);
                        TensorPrimitives.Exp<T>(sRow, sRow);
                        l[r] = l[r] * correction + TensorPrimitives.Sum<T>(sRow);
                        m[r] = mNew;
                        TileMath.WeightedSum(acc + r * hd, s, vTile, kStride, visible, hd);
                    }
                }
                for (int r = 0; r < qn; r++)
                {
                    long rowQ = (long)b * nq + q0 + r;
                    var o = new Span<T>(O + rowQ * qDim + h * hd, hd);
                    if (seg != null && seg[kvBase + qOff + q0 + r] == PaddingSegment)
                    {
                        // Padding attends to nothing: zero output, and a log-sum-exp the backward never reads.
                        o.Clear();
                        if (L != null) L[((long)b * nh + h) * nq + q0 + r] = T.Zero;
                        continue;
                    }
                    // Every other query sees at least itself, so l > 0.
                    TensorPrimitives.Multiply(new ReadOnlySpan<T>(acc + r * hd, hd), T.One / l[r], o);
                    if (L != null) L[((long)b * nh + h) * nq + q0 + r] = m[r] + T.Log(l[r]);
                }
            }
        }
        // Causal work: about nq·(qOff + nq/2) score rows of hd per head, twice (scores and values).
        long work = (long)B * nh * nq * (qOff + nq / 2 + 1) * hd * 2;
        RunTasks<T>(B * nh * tiles, work, scratchLength, Work, maxThreads);
    }

    /// <summary>
    /// Accumulates dQ, dK, dV (+=) for the forward's output and log-sum-exp. Work is split by (batch, key/value
    /// head): such a task owns the dK/dV rows of its head and the dQ rows of every query head in its group, so no
    /// two tasks write the same value.
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dq, Span<T> dk, Span<T> dv, ReadOnlySpan<T> dOutput,
        ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> output, ReadOnlySpan<T> logSumExp,
        AttentionShape shape, ReadOnlySpan<int> segments = default, int tileSize = DefaultTileSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        shape.Check(Math.Min(Math.Min(q.Length, output.Length), Math.Min(dq.Length, dOutput.Length)),
            Math.Min(Math.Min(k.Length, v.Length), Math.Min(dk.Length, dv.Length)), segments);
        if (logSumExp.Length < (long)shape.Batch * shape.NumHeads * shape.SeqLen) throw new ArgumentException("logSumExp is shorter than [B, n_heads, T]");
        if (tileSize <= 0) throw new ArgumentOutOfRangeException(nameof(tileSize));
        int B = shape.Batch, Tn = shape.SeqLen, nh = shape.NumHeads, nkv = shape.NumKvHeads, hd = shape.HeadDim;
        int qDim = shape.QDim, kvDim = shape.KvDim, group = shape.Group;
        int tile = Math.Min(tileSize, Tn);
        bool masked = !segments.IsEmpty;
        T scale = T.One / T.Sqrt(T.CreateChecked(hd));
        int scratchLength = group * Tn + 2 * tile * hd + 2 * tile;
        fixed (T* pdq = dq, pdk = dk, pdv = dv, pdo = dOutput, pq = q, pk = k, pv = v, po = output, plse = logSumExp)
        fixed (int* pseg = segments)
        {
            if (typeof(T) == typeof(float) && FlashAttentionTiled.Supported)
            {
                FlashAttentionTiled.Backward((float*)pdq, (float*)pdk, (float*)pdv, (float*)pdo, (float*)pq, (float*)pk, (float*)pv,
                    (float*)po, (float*)plse, B, Tn, nh, nkv, hd, masked ? pseg : null, tileSize);
                return;
            }
            nint dqp = (nint)pdq, dkp = (nint)pdk, dvp = (nint)pdv, dop = (nint)pdo, qp = (nint)pq, kp = (nint)pk, vp = (nint)pv,
                op = (nint)po, lp = (nint)plse, sp = (nint)pseg;
            void Work(int task, T[] scratch)
            {
                int g = task % nkv, b = task / nkv;
                T* dQ = (T*)dqp, dK = (T*)dkp, dV = (T*)dvp, dO = (T*)dop, Q = (T*)qp, K = (T*)kp, V = (T*)vp, O = (T*)op, L = (T*)lp;
                int* seg = (int*)sp;
                // D_t = dO_t · O_t, the softmax-backward correction of each query row.
                var D = scratch.AsSpan(0, group * Tn);
                for (int hh = 0; hh < group; hh++)
                {
                    int h = g * group + hh;
                    for (int t = 0; t < Tn; t++)
                    {
                        if (masked && seg[(long)b * Tn + t] == PaddingSegment) { D[hh * Tn + t] = T.Zero; continue; }
                        long off = ((long)b * Tn + t) * qDim + h * hd;
                        // The same dot routine as dO·vᵀ below: with a single visible key O = v exactly and dS is exactly 0.
                        T dot;
                        TileMath.Dots(dO + off, O + off, 0, 1, hd, T.One, &dot);
                        D[hh * Tn + t] = dot;
                    }
                }
                fixed (T* scratchBase = scratch)
                {
                    T* dKt = scratchBase + group * Tn, dVt = dKt + tile * hd, P = dVt + tile * hd, dS = P + tile;
                    for (int k0 = 0; k0 < Tn; k0 += tile)
                    {
                        int kn = Math.Min(tile, Tn - k0);
                        // As in the forward: rows whose segment id is outside the tile's range of non-padding ids
                        // (padding rows among them) see none of its keys and are skipped.
                        int segMin = int.MinValue, segMax = int.MaxValue;
                        if (masked)
                        {
                            segMin = int.MaxValue; segMax = int.MinValue;
                            for (int c = 0; c < kn; c++)
                            {
                                int id = seg[(long)b * Tn + k0 + c];
                                if (id == PaddingSegment) continue;
                                if (id < segMin) segMin = id;
                                if (id > segMax) segMax = id;
                            }
                            if (segMin > segMax) continue; // only padding keys: nothing attends to them
                        }
                        new Span<T>(dKt, 2 * tile * hd).Clear();
                        T* kTile = K + ((long)b * Tn + k0) * kvDim + g * hd, vTile = V + ((long)b * Tn + k0) * kvDim + g * hd;
                        for (int hh = 0; hh < group; hh++)
                        {
                            int h = g * group + hh;
                            // Causal: only queries at or after the tile's first key see it.
                            for (int t = k0; t < Tn; t++)
                            {
                                long rowT = (long)b * Tn + t, qOff = rowT * qDim + h * hd;
                                if (masked)
                                {
                                    int own = seg[rowT];
                                    if (own == PaddingSegment || own < segMin || own > segMax) continue;
                                }
                                T* qRow = Q + qOff, doRow = dO + qOff;
                                T lse = L[((long)b * nh + h) * Tn + t], d = D[hh * Tn + t];
                                int last = Math.Min(kn, t - k0 + 1);
                                // P = exp(q·k·scale − lse), recomputed from the forward's statistic; masked keys get 0.
                                TileMath.Dots(qRow, kTile, kvDim, last, hd, scale, P);
                                if (masked)
                                    for (int c = 0; c < last; c++)
                                        if (seg[(long)b * Tn + k0 + c] != seg[rowT]) P[c] = T.NegativeInfinity;
                                var pRow = new Span<T>(P, last);
                                TensorPrimitives.Subtract(pRow, lse, pRow);
                                TensorPrimitives.Exp<T>(pRow, pRow);
                                // dS = P ⊙ (dO·vᵀ − D)·scale.
                                TileMath.Dots(doRow, vTile, kvDim, last, hd, T.One, dS);
                                var dsRow = new Span<T>(dS, last);
                                TensorPrimitives.Subtract(dsRow, d, dsRow);
                                TensorPrimitives.Multiply<T>(dsRow, pRow, dsRow);
                                TensorPrimitives.Multiply(dsRow, scale, dsRow);
                                TileMath.RankOne(dVt, hd, P, doRow, last, hd);   // dV_c += P_c·dO
                                TileMath.RankOne(dKt, hd, dS, qRow, last, hd);   // dK_c += dS_c·q
                                TileMath.WeightedSum(dQ + qOff, dS, kTile, kvDim, last, hd); // dQ += Σ dS_c·k_c
                            }
                        }
                        for (int c = 0; c < kn; c++)
                        {
                            long off = ((long)b * Tn + k0 + c) * kvDim + g * hd;
                            var dkRow = new Span<T>(dK + off, hd);
                            var dvRow = new Span<T>(dV + off, hd);
                            TensorPrimitives.Add(dkRow, new ReadOnlySpan<T>(dKt + c * hd, hd), dkRow);
                            TensorPrimitives.Add(dvRow, new ReadOnlySpan<T>(dVt + c * hd, hd), dvRow);
                        }
                    }
                }
            }
            RunTasks<T>(B * nkv, (long)B * nh * Tn * Tn * hd, scratchLength, Work);
        }
    }

    /// <summary>Below this many multiply-adds the tasks run on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 16;

    /// <summary>Runs tasks 0..count−1, each worker with one pooled scratch array (no steady-state allocation).</summary>
    private static void RunTasks<T>(int count, long work, int scratchLength, Action<int, T[]> body, int maxThreads = 0)
    {
        if (count == 1 || work < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            var scratch = ArrayPool<T>.Shared.Rent(scratchLength);
            try { for (int i = 0; i < count; i++) body(i, scratch); }
            finally { ArrayPool<T>.Shared.Return(scratch); }
            return;
        }
        var task = new RunTask<T> { Body = body, ScratchLength = scratchLength };
        WorkerPool.Default.For(count, ref task, maxThreads);
    }

    /// <summary>One (batch, head, tile) task on the worker pool, with a pooled scratch array rented per item.</summary>
    private struct RunTask<T> : IWorkerTask
    {
        public Action<int, T[]> Body;
        public int ScratchLength;

        public readonly void Run(int index)
        {
            var scratch = ArrayPool<T>.Shared.Rent(ScratchLength);
            try { Body(index, scratch); }
            finally { ArrayPool<T>.Shared.Return(scratch); }
        }
    }
}
