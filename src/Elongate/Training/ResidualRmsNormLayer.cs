using System.Buffers;
using System.Numerics;
using Elongate.Kernels;

namespace Elongate.Training;

/// <summary>
/// The pre-norm block boundary s = x + δ, y = RMSNorm(s) (<see cref="RmsNormLayer"/>) in one pass over the rows, and
/// its backward in place on the residual gradient, both parallel over rows on <see cref="WorkerPool.Default"/>.
/// </summary>
/// <remarks>
/// Unfused, the forward reads x and δ and writes s (one pass), then reads s twice and writes y (another): here each
/// row of s is written and normalized while it is still in L1. Every element sees the same operations in the same
/// order as <c>TensorPrimitives.Add</c> followed by <see cref="RmsNormLayer.Forward{T}"/> (the sum of squares stays
/// sequential per row, as the inference kernel's), so the results are bit-identical to that composition for any
/// thread count. The backward gives the gradient of the sum, which is the gradient of both addends (the residual
/// stream and the projection written into it), bit-identical to <see cref="RmsNormLayer.Backward{T}"/>. The gain
/// gradient is a sum over rows: each task of 32 rows sums its rows in order into its own partial, and the partials are
/// added to dGain in task order — a fixed order whatever the thread count (deterministic), but not the serial kernel's
/// single running sum, so it agrees with that one to rounding (FusedLayerTests states the bound). Summing by column
/// ranges in row order instead would be bit-identical but reads dy and s a second time: measured 1.5× slower than the
/// serial kernel at 4096 × 512 on two loaded cores.
/// </remarks>
public static class ResidualRmsNormLayer
{
    /// <summary>Rows per task: large enough to amortize a claim, small enough to balance two busy cores.</summary>
    private const int RowsPerTask = 32;

    /// <summary>Below this many elements the pool's wake-up costs more than the second core saves.</summary>
    private const int ParallelElements = 1 << 15;

    /// <summary>
    /// sum = x + delta and y = gain ⊙ sum·r with r = 1/sqrt(mean(sum²) + ε) per row (saved in rstd), for
    /// <paramref name="rows"/> rows of width gain.Length. sum may not overlap x or delta.
    /// </summary>
    public static unsafe void Forward<T>(Span<T> sum, Span<T> y, Span<T> rstd, ReadOnlySpan<T> x, ReadOnlySpan<T> delta,
        ReadOnlySpan<T> gain, int rows, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gain.Length;
        long total = (long)rows * n;
        if (rows < 0 || sum.Length < total || y.Length < total || x.Length < total || delta.Length < total || rstd.Length < rows)
            throw new ArgumentException($"residual RMSNorm: buffers too short for {rows} rows of width {n}");
        fixed (T* ps = sum, py = y, pr = rstd, px = x, pd = delta, pg = gain)
        {
            var task = new ForwardTask<T> { Sum = ps, Y = py, Rstd = pr, X = px, Delta = pd, Gain = pg, N = n, Rows = rows, Eps = eps };
            Run(ref task, rows, total);
        }
    }

    /// <summary>
    /// dSum += r·g⊙dy − s·r³·(Σ g⊙dy⊙s)/n per row and dGain += Σ_rows dy⊙s·r: the backward of <see cref="Forward{T}"/>
    /// accumulated into dSum, which on entry holds the residual stream's own gradient and on exit the gradient of
    /// both addends.
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dSum, Span<T> dGain, ReadOnlySpan<T> dy, ReadOnlySpan<T> sum, ReadOnlySpan<T> gain,
        ReadOnlySpan<T> rstd, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gain.Length;
        long total = (long)rows * n;
        if (rows < 0 || dSum.Length < total || dy.Length < total || sum.Length < total || rstd.Length < rows || dGain.Length < n)
            throw new ArgumentException($"residual RMSNorm backward: buffers too short for {rows} rows of width {n}");
        int tasks = (rows + RowsPerTask - 1) / RowsPerTask;
        T[] partials = ArrayPool<T>.Shared.Rent(Math.Max(1, tasks * n));
        try
        {
            fixed (T* pds = dSum, pdg = dGain, pdy = dy, ps = sum, pg = gain, pr = rstd, pp = partials)
            {
                var task = new BackwardTask<T> { DSum = pds, Dy = pdy, Sum = ps, Gain = pg, Rstd = pr, Partials = pp, N = n, Rows = rows };
                Run(ref task, rows, total);
                for (int b = 0; b < tasks; b++)
                {
                    T* part = pp + (long)b * n;
                    for (int i = 0; i < n; i++) pdg[i] += part[i];
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(partials);
        }
    }

    private static void Run<TTask>(ref TTask task, int rows, long total) where TTask : struct, IWorkerTask
    {
        int tasks = (rows + RowsPerTask - 1) / RowsPerTask;
        if (total < ParallelElements) for (int t = 0; t < tasks; t++) task.Run(t);
        else WorkerPool.Default.For(tasks, ref task);
    }

    private unsafe struct ForwardTask<T> : IWorkerTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Sum, Y, Rstd, X, Delta, Gain;
        public int N, Rows;
        public T Eps;

        public readonly void Run(int index)
        {
            int n = N;
            T count = T.CreateChecked(n);
            int end = Math.Min(Rows, (index + 1) * RowsPerTask);
            for (int t = index * RowsPerTask; t < end; t++)
            {
                T* s = Sum + (long)t * n, x = X + (long)t * n, d = Delta + (long)t * n, y = Y + (long)t * n;
                T ss = T.Zero;
                for (int i = 0; i < n; i++)
                {
                    T v = x[i] + d[i];
                    s[i] = v;
                    ss += v * v;
                }
                T r = T.One / T.Sqrt(ss / count + Eps);
                Rstd[t] = r;
                for (int i = 0; i < n; i++) y[i] = Gain[i] * (r * s[i]);
            }
        }
    }

    private unsafe struct BackwardTask<T> : IWorkerTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* DSum, Dy, Sum, Gain, Rstd, Partials;
        public int N, Rows;

        public readonly void Run(int index)
        {
            int n = N;
            T* part = Partials + (long)index * n;
            new Span<T>(part, n).Clear();
            int end = Math.Min(Rows, (index + 1) * RowsPerTask);
            for (int t = index * RowsPerTask; t < end; t++)
            {
                RmsNormLayer.BackwardRow(new Span<T>(DSum + (long)t * n, n), new Span<T>(part, n), new ReadOnlySpan<T>(Dy + (long)t * n, n),
                    new ReadOnlySpan<T>(Sum + (long)t * n, n), new ReadOnlySpan<T>(Gain, n), Rstd[t]);
            }
        }
    }
}
