namespace Elongate.Kernels;

/// <summary>Interim pool (replaced by the persistent pool): runs work items with Parallel.For.</summary>
public sealed class WorkerPool : IDisposable
{
    public WorkerPool(int threads) => Threads = threads <= 0 ? Environment.ProcessorCount : threads;
    public int Threads { get; }
    public static WorkerPool Default { get; } = new(0);
    public void For<T>(int count, ref T work) where T : struct, IWorkerTask
    {
        var copy = work;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Threads }, i => copy.Run(i));
    }
    public void Dispose() { }
}

/// <summary>One indexed work item of <see cref="WorkerPool.For{T}"/>.</summary>
public interface IWorkerTask
{
    void Run(int index);
}
