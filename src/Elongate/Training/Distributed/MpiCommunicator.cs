using System.Runtime.InteropServices;

namespace Elongate.Training.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's <c>libmpi.so.40</c>, called through function pointers resolved at run
/// time with <see cref="NativeLibrary"/>: nothing is linked at build time, and a process that never runs under
/// <c>mpirun</c> never loads the library.
/// </summary>
/// <remarks>
/// <para><b>Why a thin P/Invoke layer rather than MPI.NET.</b> Training needs eleven calls (init, rank, size,
/// allreduce, allgather, bcast, send, recv, barrier, abort, finalize). MPI.NET 1.4.0, the binding on NuGet, is built
/// for Microsoft MPI on Windows; on Linux its maintainers recommend building it from source as a submodule, against
/// the local <c>mpi.h</c>, because MPI's handles are not portable between implementations (MPICH and Intel MPI use
/// integers, Open MPI pointers to exported globals). A layer of our own costs ~150 lines, adds no package, keeps the
/// single-process path free of any MPI assembly, and lets a missing or wrong library be reported in one clear
/// sentence.</para>
/// <para><b>Open MPI's ABI.</b> MPI_Comm, MPI_Datatype and MPI_Op are pointers; MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …
/// are the addresses of the exported objects <c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>,
/// <c>ompi_mpi_op_sum</c>, … (mpi.h: <c>OMPI_PREDEFINED_GLOBAL</c>), stable across Open MPI 3–5 (soname
/// libmpi.so.40). MPI_STATUS_IGNORE is a null pointer, MPI_IN_PLACE the address 1; MPI_THREAD_SERIALIZED is 2. Errors on MPI_COMM_WORLD are
/// fatal by default (MPI_ERRORS_ARE_FATAL), so a failed call aborts the job rather than returning here; the return
/// codes are still checked.</para>
/// <para>Calls are made from one thread at a time (the training loop), which MPI_THREAD_SERIALIZED allows.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>The library loaded: Open MPI 3.x–5.x's soname.</summary>
    public const string LibraryName = "libmpi.so.40";

    private const int ThreadSerialized = 2;
    // MPI_IN_PLACE in Open MPI's mpi.h.
    private static readonly void* InPlace = (void*)1;
    // Counts are C ints: longer buffers go in chunks.
    private const int MaxChunk = 1 << 30;

    private readonly nint _lib, _world, _float, _double, _longLong, _sum, _min, _max;
    private readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> _allreduce;
    private readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> _allgather;
    private readonly delegate* unmanaged<void*, int, nint, int, nint, int> _bcast;
    private readonly delegate* unmanaged<void*, int, nint, int, int, nint, int> _send;
    private readonly delegate* unmanaged<void*, int, nint, int, int, nint, void*, int> _recv;
    private readonly delegate* unmanaged<nint, int> _barrier;
    private readonly delegate* unmanaged<nint, int, int> _abort;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<int*, int> _finalized;
    private bool _done;

    public int Rank { get; }
    public int Size { get; }

    private MpiCommunicator(nint lib)
    {
        _lib = lib;
        nint Export(string name) => NativeLibrary.TryGetExport(lib, name, out var a)
            ? a : throw new IOException($"{LibraryName} has no symbol {name}: it is not Open MPI's libmpi (Elongate binds Open MPI's ABI)");
        var init = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        var initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        var rank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        var size = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        _bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        _send = (delegate* unmanaged<void*, int, nint, int, int, nint, int>)Export("MPI_Send");
        _recv = (delegate* unmanaged<void*, int, nint, int, int, nint, void*, int>)Export("MPI_Recv");
        _barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        _world = Export("ompi_mpi_comm_world");
        _float = Export("ompi_mpi_float");
        _double = Export("ompi_mpi_double");
        _longLong = Export("ompi_mpi_long_long_int");
        _sum = Export("ompi_mpi_op_sum");
        _min = Export("ompi_mpi_op_min");
        _max = Export("ompi_mpi_op_max");

        int flag = 0, provided = 0, r = 0, n = 0;
        Check(initialized(&flag), "MPI_Initialized");
        if (flag == 0) Check(init(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
        Check(rank(_world, &r), "MPI_Comm_rank");
        Check(size(_world, &n), "MPI_Comm_size");
        Rank = r;
        Size = n;
    }

    /// <summary>Loads Open MPI and initializes MPI (MPI_Init_thread, serialized).</summary>
    /// <exception cref="IOException">The library cannot be loaded or is not Open MPI's.</exception>
    public static MpiCommunicator Initialize() => Initialize(LibraryName);

    internal static MpiCommunicator Initialize(string libraryName)
    {
        if (!NativeLibrary.TryLoad(libraryName, out var lib))
            throw new IOException($"this process runs under mpirun but {libraryName} (Open MPI) cannot be loaded: install Open MPI "
                + "(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) on every machine, or set LD_LIBRARY_PATH to its lib folder");
        return new MpiCommunicator(lib);
    }

    private static void Check(int rc, string call)
    {
        if (rc != 0) throw new InvalidOperationException($"{call} failed with MPI error code {rc}");
    }

    public void AllreduceSum(Span<float> buffer)
    {
        fixed (float* p = buffer)
            for (int i = 0; i < buffer.Length; i += MaxChunk)
                Check(_allreduce(InPlace, p + i, Math.Min(MaxChunk, buffer.Length - i), _float, _sum, _world), "MPI_Allreduce");
    }

    public void Allgather(ReadOnlySpan<double> mine, Span<double> all)
    {
        if (all.Length != mine.Length * Size) throw new ArgumentException($"need {mine.Length * Size} slots for {Size} ranks × {mine.Length}", nameof(all));
        fixed (double* s = mine)
        fixed (double* r = all)
            Check(_allgather(s, mine.Length, _double, r, mine.Length, _double, _world), "MPI_Allgather");
    }

    public void Broadcast(Span<float> buffer, int root)
    {
        fixed (float* p = buffer)
            for (int i = 0; i < buffer.Length; i += MaxChunk)
                Check(_bcast(p + i, Math.Min(MaxChunk, buffer.Length - i), _float, root, _world), "MPI_Bcast");
    }

    public void Send(ReadOnlySpan<float> buffer, int destination)
    {
        fixed (float* p = buffer)
            for (int i = 0; i < buffer.Length; i += MaxChunk)
                Check(_send(p + i, Math.Min(MaxChunk, buffer.Length - i), _float, destination, 0, _world), "MPI_Send");
    }

    public void Receive(Span<float> buffer, int source)
    {
        fixed (float* p = buffer)
            for (int i = 0; i < buffer.Length; i += MaxChunk)
                Check(_recv(p + i, Math.Min(MaxChunk, buffer.Length - i), _float, source, 0, _world, null), "MPI_Recv");
    }

    public (long Min, long Max) MinMax(long value)
    {
        long min = 0, max = 0;
        Check(_allreduce(&value, &min, 1, _longLong, _min, _world), "MPI_Allreduce");
        Check(_allreduce(&value, &max, 1, _longLong, _max, _world), "MPI_Allreduce");
        return (min, max);
    }

    public void Barrier() => Check(_barrier(_world), "MPI_Barrier");

    /// <summary>Ends MPI normally (MPI_Finalize) (every rank must call it).</summary>
    public void Finish()
    {
        if (_done) return;
        _done = true;
        int flag = 0;
        if (_finalized(&flag) == 0 && flag == 0) Check(_finalize(), "MPI_Finalize");
    }

    /// <summary>Stops every rank of the job at once (MPI_Abort): the way out after an error on any rank, since the others may wait in a collective forever.</summary>
    public void Abort(int exitCode)
    {
        _done = true;
        _abort(_world, exitCode);
    }
}
