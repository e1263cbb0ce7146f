namespace Elongate.Training.Distributed;

/// <summary>
/// The few collective operations data-parallel training needs, over all the processes of one job (MPI's
/// <c>MPI_COMM_WORLD</c>). The trainers call these unconditionally; in a single process
/// (<see cref="SingleProcessCommunicator"/>) every one is a no-op or a copy, so the single-process path does no extra work.
/// </summary>
/// <remarks>
/// Every rank must call the collectives in the same order with the same sizes (MPI's rule); the trainers do, because
/// every decision that leads to a call (step count, micro-batch partition, stop requests) is the same on every rank.
/// </remarks>
public interface ICommunicator
{
    /// <summary>This process's index, 0 … <see cref="Size"/> − 1. Rank 0 writes files and logs.</summary>
    int Rank { get; }

    /// <summary>Processes in the job (1 without MPI).</summary>
    int Size { get; }

    /// <summary>Sums <paramref name="buffer"/> element-wise over all ranks, in place (every rank gets the sum).</summary>
    void AllreduceSum(Span<float> buffer);

    /// <summary>Gathers <paramref name="mine"/> (the same length on every rank) from all ranks into <paramref name="all"/>, rank by rank.</summary>
    void Allgather(ReadOnlySpan<double> mine, Span<double> all);

    /// <summary>Copies <paramref name="buffer"/> from rank <paramref name="root"/> to every rank.</summary>
    void Broadcast(Span<float> buffer, int root);

    /// <summary>Sends <paramref name="buffer"/> to rank <paramref name="destination"/> (blocking).</summary>
    void Send(ReadOnlySpan<float> buffer, int destination);

    /// <summary>Receives exactly <paramref name="buffer"/>.Length floats from rank <paramref name="source"/> (blocking).</summary>
    void Receive(Span<float> buffer, int source);

    /// <summary>The smallest and largest of <paramref name="value"/> over all ranks.</summary>
    (long Min, long Max) MinMax(long value);

    /// <summary>Waits until every rank has called it.</summary>
    void Barrier();
}
