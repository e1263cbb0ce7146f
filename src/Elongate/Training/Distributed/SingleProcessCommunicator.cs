namespace Elongate.Training.Distributed;

/// <summary>The job of one process: collectives are identities, so a single-process run computes exactly what it did before MPI support.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    private SingleProcessCommunicator() { }

    public int Rank => 0;
    public int Size => 1;
    public void AllreduceSum(Span<float> buffer) { }
    public void Allgather(ReadOnlySpan<double> mine, Span<double> all) => mine.CopyTo(all);
    public void Broadcast(Span<float> buffer, int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), $"rank {root} does not exist in a single-process job");
    }

    // A single process has no peer: a call that sends or receives is a bug in the caller.
    public void Send(ReadOnlySpan<float> buffer, int destination) => throw NoPeer(destination);
    public void Receive(Span<float> buffer, int source) => throw NoPeer(source);
    public (long Min, long Max) MinMax(long value) => (value, value);
    public void Barrier() { }

    private static InvalidOperationException NoPeer(int rank) => new($"a single-process job has no rank {rank} to exchange messages with");
}
