namespace Elongate.Common;

/// <summary>Every slot is busy and the waiting queue is full (HTTP 503).</summary>
public sealed class ServerBusyException(int slots, int queued) :
    Exception($"all {slots} slots are busy and {queued} requests are already waiting; try again later")
{
    /// <summary>Number of slots.</summary>
    public int Slots { get; } = slots;
    /// <summary>Requests waiting when this one was refused.</summary>
    public int Queued { get; } = queued;
}
