using System.Diagnostics;
using System.Numerics.Tensors;

namespace Elongate.Training.Distributed;

/// <summary>
/// What one optimizer step needs to run data-parallel: which of the step's micro-batches this rank computes, and the
/// sums of their losses and gradients over all ranks, so every rank applies the same AdamW update.
/// </summary>
/// <remarks>
/// <para><b>Partition.</b> A step's M micro-batches (in the single-process order) are cut into contiguous shares:
/// rank r computes micro-batches [⌊rM/N⌋, ⌊(r+1)M/N⌋). Each micro-batch holds exactly the sequences it would hold in one
/// process, so the data order does not depend on the number of ranks.</para>
/// <para><b>Losses</b> are gathered (one double per micro-batch) and summed in the global micro-batch order, as one
/// process sums them: with equal parameters, the step's loss is the single-process value bit for bit.</para>
/// <para><b>Gradients</b>, default: each rank accumulates its micro-batches in the backward (as one process does), then
/// one MPI_Allreduce sums the flat fp32 buffer. The result differs from one process's only in the order of the fp32
/// additions: per element |Δ| ≤ (M − 1)·u·Σₖ|gₖ| (u = 2⁻²⁴; Higham's bound for recursive summation), typically a few
/// ulps. <b>Deterministic</b> (<c>--deterministic</c>): every micro-batch's gradient is computed on its own and the sum
/// is the left fold ((g₀ + g₁) + g₂) + … in the global order, in one process and across ranks alike (rank r receives
/// the running sum from the rank before it, adds its micro-batches in order and passes it on; the last rank
/// broadcasts the total), so N ranks give one process's gradients bit for bit. It costs one extra gradient buffer,
/// plus one per extra micro-batch on ranks after the first, and a chain of N − 1 sends instead of a ring allreduce.</para>
/// </remarks>
public sealed class DataParallelStep
{
    private readonly ICommunicator _comm;
    private readonly bool _ordered;
    private readonly Stopwatch _comms = new();
    private readonly List<float[]> _stash = [];
    private float[]? _acc;
    private int _first, _count, _microBatches;

    /// <param name="communicator">The job.</param>
    /// <param name="orderedGradients">Sum gradients as the fixed left fold (deterministic runs), see remarks.</param>
    public DataParallelStep(ICommunicator communicator, bool orderedGradients)
    {
        _comm = communicator;
        _ordered = orderedGradients;
    }

    /// <summary>
    /// The job's split of a step, checked before training starts (train, extend and finetune alike): the micro-batches
    /// must divide evenly over the ranks, and a deterministic run needs one thread per rank.
    /// </summary>
    /// <exception cref="ArgumentException">The split is uneven (naming a --batch-size that works), or a deterministic rank sees several processors.</exception>
    public static DataParallelStep Create(ICommunicator communicator, bool deterministic, int microBatches, int sequencesPerStep, int batchSize)
    {
        int ranks = communicator.Size;
        if (ranks > 1)
        {
            if (microBatches % ranks != 0)
                throw new ArgumentException($"{microBatches} micro-batches per step ({sequencesPerStep} sequences / --batch-size {batchSize}) cannot be split evenly over {ranks} ranks: "
                    + (sequencesPerStep % ranks == 0 ? $"use --batch-size {sequencesPerStep / ranks} (or a divisor of it)" : $"choose --tokens-per-step so that the sequences per step are a multiple of {ranks}"));
            if (deterministic && Environment.ProcessorCount > 1)
                throw new ArgumentException($"--deterministic under mpirun needs one thread per rank: start it with mpirun -x DOTNET_PROCESSOR_COUNT=1 (this rank sees {Environment.ProcessorCount} processors)");
        }
        return new DataParallelStep(communicator, deterministic);
    }

    /// <summary>
    /// Appends a step's metrics line to metrics.jsonl on rank 0 (with the world size and this step's communication
    /// time when there are several ranks) and returns the metrics written and the line's length in bytes;
    /// <paramref name="fileLength"/> becomes the file's new length on rank 0, and other ranks (which write nothing) get
    /// the line's length added to it, so every rank keeps the length rank 0's file has.
    /// </summary>
    public TrainingMetrics AppendMetrics(string path, TrainingMetrics metrics, ref long fileLength)
    {
        if (_comm.Size > 1) metrics = metrics with { WorldSize = _comm.Size, CommMilliseconds = Math.Round(CommMilliseconds, 3) };
        var line = System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(metrics, TrainingMetrics.Json) + "\n");
        if (!IsRoot)
        {
            fileLength += line.Length;
            return metrics;
        }
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write);
        f.Write(line);
        fileLength = f.Position;
        return metrics;
    }

    /// <summary>The job's communicator.</summary>
    public ICommunicator Communicator => _comm;

    /// <summary>True on the rank that writes files and logs.</summary>
    public bool IsRoot => _comm.Rank == 0;

    /// <summary>Time spent in communication since the last <see cref="BeginStep"/>, in milliseconds.</summary>
    public double CommMilliseconds => _comms.Elapsed.TotalMilliseconds;

    /// <summary>First micro-batch of <paramref name="rank"/>'s share of <paramref name="microBatches"/>.</summary>
    public static int ShareStart(int rank, int ranks, int microBatches) => (int)((long)rank * microBatches / ranks);

    /// <summary>Starts a step of <paramref name="microBatches"/> micro-batches; returns this rank's share [First, First + Count).</summary>
    public (int First, int Count) BeginStep(int microBatches)
    {
        _comms.Reset();
        _microBatches = microBatches;
        _first = ShareStart(_comm.Rank, _comm.Size, microBatches);
        _count = ShareStart(_comm.Rank + 1, _comm.Size, microBatches) - _first;
        return (_first, _count);
    }

    private int CountOf(int rank) => ShareStart(rank + 1, _comm.Size, _microBatches) - ShareStart(rank, _comm.Size, _microBatches);

    /// <summary>
    /// Call after the backward of this rank's <paramref name="local"/>-th micro-batch (0-based within its share). In the
    /// ordered mode it takes the micro-batch's gradient out of <paramref name="gradients"/> (and zeroes it for the next);
    /// otherwise gradients simply accumulate there.
    /// </summary>
    public void MicroBatchDone(float[] gradients, int local)
    {
        if (!_ordered || _count == 1) return;
        bool last = local == _count - 1;
        if (StartsChain())
        {
            // The first rank with work folds on the fly: acc = g0, then acc += g1, …
            if (local == 0) gradients.CopyTo(Acc(gradients.Length), 0);
            else TensorPrimitives.Add(_acc!, gradients, _acc);
            if (last) _acc!.CopyTo(gradients, 0);
            else Array.Clear(gradients);
        }
        else if (!last)
        {
            while (_stash.Count <= local) _stash.Add(new float[gradients.Length]);
            gradients.CopyTo(_stash[local], 0);
            Array.Clear(gradients);
        }
    }

    private float[] Acc(int length) => _acc is { Length: var n } && n == length ? _acc : _acc = new float[length];

    // This rank holds micro-batch 0 of the step (ranks before it have none).
    private bool StartsChain() => _count > 0 && _first == 0;

    /// <summary>The step's loss sum: each micro-batch's loss (this rank's in <paramref name="localLosses"/>) added in the global order, starting from 0.</summary>
    public double SumLosses(ReadOnlySpan<double> localLosses)
    {
        if (localLosses.Length != _count) throw new ArgumentException($"expected {_count} losses, got {localLosses.Length}");
        double sum = 0;
        if (_comm.Size == 1)
        {
            foreach (var l in localLosses) sum += l;
            return sum;
        }
        int slot = 0;
        for (int r = 0; r < _comm.Size; r++) slot = Math.Max(slot, CountOf(r));
        Span<double> mine = slot <= 64 ? stackalloc double[slot] : new double[slot];
        mine.Clear();
        localLosses.CopyTo(mine);
        var all = new double[slot * _comm.Size];
        _comms.Start();
        _comm.Allgather(mine, all);
        _comms.Stop();
        for (int r = 0; r < _comm.Size; r++)
            for (int j = 0, n = CountOf(r); j < n; j++) sum += all[r * slot + j];
        return sum;
    }

    /// <summary>Replaces this rank's gradient sum in <paramref name="gradients"/> by the sum over all ranks (see remarks for the order).</summary>
    public void SumGradients(float[] gradients)
    {
        if (_comm.Size == 1) return;
        _comms.Start();
        try
        {
            if (!_ordered)
            {
                _comm.AllreduceSum(gradients);
                return;
            }
            int previous = -1, next = -1, lastWithWork = -1;
            for (int r = 0; r < _comm.Size; r++)
            {
                if (CountOf(r) == 0) continue;
                if (r < _comm.Rank) previous = r;
                if (r > _comm.Rank && next < 0) next = r;
                lastWithWork = r;
            }
            if (_count > 0)
            {
                if (previous >= 0)
                {
                    // acc = (sum of everything before this rank) + g_first + … + g_last, one addition at a time.
                    var acc = Acc(gradients.Length);
                    _comm.Receive(acc, previous);
                    for (int j = 0; j < _count - 1; j++) TensorPrimitives.Add(acc, _stash[j], acc);
                    TensorPrimitives.Add(acc, gradients, acc);
                    acc.CopyTo(gradients, 0);
                }
                if (next >= 0) _comm.Send(gradients, next);
            }
            _comm.Broadcast(gradients, lastWithWork);
        }
        finally
        {
            _comms.Stop();
        }
    }

    /// <summary>True when every rank passes the same <paramref name="value"/>; used to check that ranks resumed from the same state.</summary>
    public bool Agree(long value)
    {
        _comms.Start();
        var (min, max) = _comm.MinMax(value);
        _comms.Stop();
        return min == max;
    }

    /// <summary>True when any rank passes true (a stop request on one rank stops all of them after the same step).</summary>
    public bool Any(bool flag)
    {
        if (_comm.Size == 1) return flag;
        _comms.Start();
        var (_, max) = _comm.MinMax(flag ? 1 : 0);
        _comms.Stop();
        return max != 0;
    }
}
