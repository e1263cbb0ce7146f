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
/// stream and the projection written into it), as <see cref="RmsNormLayer.Backward{T}"/> does; the gain gradient is
/// summed over rows in row order by column ranges, so it too is bit-identical to the serial kernel.
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
        fixed (T* pds = dSum, pdg = dGain, pdy = dy, ps = sum, pg = gain, pr = rstd)
        {
            var rowsTask = new BackwardRowsTask<T> { DSum = pds, Dy = pdy, Sum = ps, Gain = pg, Rstd = pr, N = n, Rows = rows };
            Run(ref rowsTask, rows, total);
            // The gain gradient is a sum over rows: split by columns instead, each column summed in row order.
            var gainTask = new BackwardGainTask<T> { DGain = pdg, Dy = pdy, Sum = ps, Rstd = pr, N = n, Rows = rows };
            int ranges = total < ParallelElements ? 1 : Math.Min(WorkerPool.Default.Threads * 4, Math.Max(1, n / 16));
            gainTask.Ranges = ranges;
            if (ranges == 1) gainTask.Run(0);
            else WorkerPool.Default.For(ranges, ref gainTask);
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

    private unsafe struct BackwardRowsTask<T> : IWorkerTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* DSum, Dy, Sum, Gain, Rstd;
        public int N, Rows;

        public readonly void Run(int index)
        {
            int n = N;
            T count = T.CreateChecked(n);
            int end = Math.Min(Rows, (index + 1) * RowsPerTask);
            for (int t = index * RowsPerTask; t < end; t++)
            {
                T* x = Sum + (long)t * n, dy = Dy + (long)t * n, dx = DSum + (long)t * n;
                T r = Rstd[t];
                T dot = T.Zero;
                for (int i = 0; i < n; i++) dot += Gain[i] * dy[i] * x[i];
                T c = r * r * r * dot / count;
                for (int i = 0; i < n; i++) dx[i] += r * Gain[i] * dy[i] - c * x[i];
            }
        }
    }

    private unsafe struct BackwardGainTask<T> : IWorkerTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* DGain, Dy, Sum, Rstd;
        public int N, Rows, Ranges;

        public readonly void Run(int index)
        {
            int n = N;
            int i0 = (int)((long)n * index / Ranges), i1 = (int)((long)n * (index + 1) / Ranges);
            for (int t = 0; t < Rows; t++)
            {
                T* x = Sum + (long)t * n, dy = Dy + (long)t * n;
                T r = Rstd[t];
                for (int i = i0; i < i1; i++) DGain[i] += dy[i] * x[i] * r;
            }
        }
    }
}
