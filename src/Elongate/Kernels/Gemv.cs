using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// Matrix-vector products for GEMMs with one output row (token-by-token generation). Packing would cost as much as the
/// product itself there, and the work is bound by streaming the matrix once, so these loops read it in place, several
/// rows or a wide column strip at a time, split across cores when the matrix is large enough. Each output element is
/// summed in the same order whatever the thread count.
/// </summary>
internal static class Gemv
{
    /// <summary>Below this many matrix elements one core streams the matrix faster than waking the pool.</summary>
    private const long ParallelElements = 1 << 17;

    /// <summary>
    /// y[t, j] = α·Σ_p x[t, p]·w[j, p] + β·y[t, j] for t &lt; m, j &lt; n (w stored [n, k]: nn.Linear weight). Each group of
    /// four weight rows is dotted with all m inputs while it is in cache, so w streams from memory once; every output
    /// is summed exactly as for m = 1, so a batch of rows gives bit-identical results to one row at a time.
    /// </summary>
    public static unsafe void RowDots(float* x, nint ldx, int m, float* w, nint ldw, int n, int k, float* y, nint ldy,
        float alpha, float beta, GemmIsa isa, int threads)
    {
        int chunks = (long)n * k * m >= ParallelElements && threads > 1 ? Math.Min(threads * 4, (n + 3) / 4) : 1;
        if (chunks <= 1) RowDotsRange(x, ldx, m, w, ldw, 0, n, k, y, ldy, alpha, beta, isa);
        else RowDotsParallel((nint)x, ldx, m, (nint)w, ldw, n, k, (nint)y, ldy, alpha, beta, isa, threads, chunks);
    }

    private static unsafe void RowDotsParallel(nint xp, nint ldx, int m, nint wp, nint ldw, int n, int k, nint yp, nint ldy,
        float alpha, float beta, GemmIsa isa, int threads, int chunks)
    {
        var task = new RowDotsTask
        {
            X = (float*)xp, Ldx = ldx, M = m, W = (float*)wp, Ldw = ldw, N = n, K = k, Y = (float*)yp, Ldy = ldy,
            Alpha = alpha, Beta = beta, Isa = isa, Chunks = chunks,
        };
        WorkerPool.Default.For(chunks, ref task, threads);
    }

    private unsafe struct RowDotsTask : IWorkerTask
    {
        public float* X, W, Y;
        public nint Ldx, Ldw, Ldy;
        public int M, N, K, Chunks;
        public float Alpha, Beta;
        public GemmIsa Isa;

        public readonly void Run(int t)
        {
            // Chunk edges on multiples of four rows, so the 4-row groups (and with them every sum) are the same for any split.
            int j0 = (int)((long)N * t / Chunks) & ~3, j1 = t == Chunks - 1 ? N : (int)((long)N * (t + 1) / Chunks) & ~3;
            RowDotsRange(X, Ldx, M, W, Ldw, j0, j1, K, Y, Ldy, Alpha, Beta, Isa);
        }
    }

    /// <summary>y[j] = α·Σ_p x[p]·b[p·ldb + j] + β·y[j] for j &lt; n (b stored [k, n]).</summary>
    public static unsafe void Axpys(float* x, float* b, nint ldb, int k, int n, float* y, float alpha, float beta, GemmIsa isa, int threads)
    {
        int chunks = (long)n * k >= ParallelElements && threads > 1 ? Math.Min(threads * 4, (n + 63) / 64) : 1;
        if (chunks <= 1) AxpysRange(x, b, ldb, k, 0, n, y, alpha, beta, isa);
        else AxpysParallel((nint)x, (nint)b, ldb, k, n, (nint)y, alpha, beta, isa, threads, chunks);
    }

    private static unsafe void AxpysParallel(nint xp, nint bp, nint ldb, int k, int n, nint yp, float alpha, float beta, GemmIsa isa, int threads, int chunks)
    {
        var task = new AxpysTask { X = (float*)xp, B = (float*)bp, Ldb = ldb, K = k, N = n, Y = (float*)yp, Alpha = alpha, Beta = beta, Isa = isa, Chunks = chunks };
        WorkerPool.Default.For(chunks, ref task, threads);
    }

    private unsafe struct AxpysTask : IWorkerTask
    {
        public float* X, B, Y;
        public nint Ldb;
        public int K, N, Chunks;
        public float Alpha, Beta;
        public GemmIsa Isa;

        public readonly void Run(int t)
        {
            int j0 = (int)((long)N * t / Chunks) & ~63, j1 = t == Chunks - 1 ? N : (int)((long)N * (t + 1) / Chunks) & ~63;
            AxpysRange(X, B, Ldb, K, j0, j1, Y, Alpha, Beta, Isa);
        }
    }

    private static float Finish(float sum, float alpha, float beta, float old) =>
        beta == 0f ? alpha * sum : MathF.FusedMultiplyAdd(alpha, sum, beta * old);

    private static unsafe void RowDotsRange(float* x0, nint ldx, int m, float* w, nint ldw, int j0, int j1, int k, float* y0, nint ldy,
        float alpha, float beta, GemmIsa isa)
    {
        int j = j0;
        // Every input row meets a group of four weight rows while that group is still in cache.
        for (; j + 4 <= j1; j += 4)
        for (int t = 0; t < m; t++)
        {
            float* x = x0 + t * ldx, y = y0 + t * ldy;
            float* w0 = w + j * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
            float s0, s1, s2, s3;
            int p = 0;
            if (isa == GemmIsa.Avx512)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; p + 16 <= k; p += 16)
                {
                    var xv = Vector512.Load(x + p);
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w0 + p), xv, a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w1 + p), xv, a1);
                    a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w2 + p), xv, a2);
                    a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w3 + p), xv, a3);
                }
                s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
            }
            else if (isa == GemmIsa.Avx2)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; p + 8 <= k; p += 8)
                {
                    var xv = Vector256.Load(x + p);
                    a0 = Fma.MultiplyAdd(Vector256.Load(w0 + p), xv, a0);
                    a1 = Fma.MultiplyAdd(Vector256.Load(w1 + p), xv, a1);
                    a2 = Fma.MultiplyAdd(Vector256.Load(w2 + p), xv, a2);
                    a3 = Fma.MultiplyAdd(Vector256.Load(w3 + p), xv, a3);
                }
                s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
            }
            else s0 = s1 = s2 = s3 = 0f;
            for (; p < k; p++)
            {
                float xv = x[p];
                s0 += w0[p] * xv; s1 += w1[p] * xv; s2 += w2[p] * xv; s3 += w3[p] * xv;
            }
            y[j] = Finish(s0, alpha, beta, y[j]);
            y[j + 1] = Finish(s1, alpha, beta, y[j + 1]);
            y[j + 2] = Finish(s2, alpha, beta, y[j + 2]);
            y[j + 3] = Finish(s3, alpha, beta, y[j + 3]);
        }
        for (; j < j1; j++)
        for (int t = 0; t < m; t++)
        {
            float* x = x0 + t * ldx, y = y0 + t * ldy;
            float* wj = w + j * ldw;
            float s = 0f;
            for (int p = 0; p < k; p++) s += wj[p] * x[p];
            y[j] = Finish(s, alpha, beta, y[j]);
        }
    }

    private static unsafe void AxpysRange(float* x, float* b, nint ldb, int k, int j0, int j1, float* y, float alpha, float beta, GemmIsa isa)
    {
        int j = j0;
        if (isa == GemmIsa.Avx512)
        {
            // 64-column strips: four zmm accumulators live across the whole k loop.
            for (; j + 64 <= j1; j += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* bj = b + j;
                for (int p = 0; p < k; p++, bj += ldb)
                {
                    var xv = Vector512.Create(x[p]);
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(bj), xv, a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(bj + 16), xv, a1);
                    a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(bj + 32), xv, a2);
                    a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(bj + 48), xv, a3);
                }
                Store(a0, y + j, alpha, beta); Store(a1, y + j + 16, alpha, beta);
                Store(a2, y + j + 32, alpha, beta); Store(a3, y + j + 48, alpha, beta);
            }
            for (; j + 16 <= j1; j += 16)
            {
                Vector512<float> a0 = default;
                float* bj = b + j;
                for (int p = 0; p < k; p++, bj += ldb)
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(bj), Vector512.Create(x[p]), a0);
                Store(a0, y + j, alpha, beta);
            }
        }
        else if (isa == GemmIsa.Avx2)
        {
            for (; j + 32 <= j1; j += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* bj = b + j;
                for (int p = 0; p < k; p++, bj += ldb)
                {
                    var xv = Vector256.Create(x[p]);
                    a0 = Fma.MultiplyAdd(Vector256.Load(bj), xv, a0);
                    a1 = Fma.MultiplyAdd(Vector256.Load(bj + 8), xv, a1);
                    a2 = Fma.MultiplyAdd(Vector256.Load(bj + 16), xv, a2);
                    a3 = Fma.MultiplyAdd(Vector256.Load(bj + 24), xv, a3);
                }
                Store(a0, y + j, alpha, beta); Store(a1, y + j + 8, alpha, beta);
                Store(a2, y + j + 16, alpha, beta); Store(a3, y + j + 24, alpha, beta);
            }
            for (; j + 8 <= j1; j += 8)
            {
                Vector256<float> a0 = default;
                float* bj = b + j;
                for (int p = 0; p < k; p++, bj += ldb)
                    a0 = Fma.MultiplyAdd(Vector256.Load(bj), Vector256.Create(x[p]), a0);
                Store(a0, y + j, alpha, beta);
            }
        }
        for (; j < j1; j++)
        {
            float s = 0f;
            float* bj = b + j;
            for (int p = 0; p < k; p++, bj += ldb) s += x[p] * *bj;
            y[j] = Finish(s, alpha, beta, y[j]);
        }
    }

    private static unsafe void Store(Vector512<float> v, float* y, float alpha, float beta)
    {
        var r = beta == 0f ? Vector512.Create(alpha) * v
            : Avx512F.FusedMultiplyAdd(Vector512.Create(alpha), v, Vector512.Create(beta) * Vector512.Load(y));
        r.Store(y);
    }

    private static unsafe void Store(Vector256<float> v, float* y, float alpha, float beta)
    {
        var r = beta == 0f ? Vector256.Create(alpha) * v
            : Fma.MultiplyAdd(Vector256.Create(alpha), v, Vector256.Create(beta) * Vector256.Load(y));
        r.Store(y);
    }
}
