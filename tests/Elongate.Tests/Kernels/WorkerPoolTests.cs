using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary><see cref="WorkerPool"/>: every item runs exactly once, exceptions reach the caller, nesting runs inline.</summary>
public class WorkerPoolTests
{
    private unsafe struct CountTask : IWorkerTask
    {
        public int* Hits;
        public readonly void Run(int index) => Interlocked.Increment(ref Hits[index]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public unsafe void EveryItemRunsOnce(int threads)
    {
        using var pool = new WorkerPool(threads);
        var hits = new int[1000];
        fixed (int* p = hits)
        {
            for (int rep = 0; rep < 200; rep++)
            {
                int n = 1 + rep * 5 % 997;
                var task = new CountTask { Hits = p };
                pool.For(n, ref task);
                for (int i = 0; i < n; i++) Assert.Equal(rep + 1 - CountBefore(i, rep), hits[i]);
            }
        }

        static int CountBefore(int i, int rep)
        {
            // Number of earlier reps whose n did not reach i.
            int missed = 0;
            for (int r = 0; r <= rep; r++) if (1 + r * 5 % 997 <= i) missed++;
            return missed;
        }
    }

    private struct ThrowTask : IWorkerTask
    {
        public readonly void Run(int index)
        {
            if (index == 7) throw new InvalidOperationException("item 7");
        }
    }

    [Fact]
    public void ExceptionIsRethrownOnCaller()
    {
        using var pool = new WorkerPool(2);
        var task = new ThrowTask();
        var e = Assert.Throws<InvalidOperationException>(() => pool.For(16, ref task));
        Assert.Equal("item 7", e.Message);
        // The pool is still usable afterwards.
        var ok = new SumTask();
        pool.For(4, ref ok);
    }

    private struct SumTask : IWorkerTask
    {
        public WorkerPool? Pool;
        public long[]? Sums;

        public readonly void Run(int index)
        {
            if (Pool == null || Sums == null) return;
            // A nested loop on the same pool runs inline instead of deadlocking.
            var inner = new InnerTask { Sums = Sums, Outer = index };
            Pool.For(10, ref inner);
        }
    }

    private struct InnerTask : IWorkerTask
    {
        public long[] Sums;
        public int Outer;
        public readonly void Run(int index) => Interlocked.Add(ref Sums[Outer], index);
    }

    [Fact]
    public void NestedCallsRunInline()
    {
        using var pool = new WorkerPool(2);
        var sums = new long[8];
        var task = new SumTask { Pool = pool, Sums = sums };
        pool.For(8, ref task);
        Assert.All(sums, s => Assert.Equal(45, s));
    }

    [Fact]
    public async Task IdleWorkersWakeUpAfterBlocking()
    {
        using var pool = new WorkerPool(2);
        var sums = new long[1];
        for (int rep = 0; rep < 3; rep++)
        {
            await Task.Delay(5); // longer than the spin window: workers block and must be woken
            var inner = new InnerTask { Sums = sums, Outer = 0 };
            pool.For(100, ref inner);
        }
        Assert.Equal(3 * 4950, sums[0]);
    }
}
