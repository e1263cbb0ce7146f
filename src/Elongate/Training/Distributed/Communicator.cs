namespace Elongate.Training.Distributed;

/// <summary>
/// The process's communicator: <see cref="MpiCommunicator"/> when it was started by Open MPI's <c>mpirun</c> (or another
/// PMIx launcher) with more than one process, else <see cref="SingleProcessCommunicator"/>. Created on first use, so a
/// command that never trains never touches MPI.
/// </summary>
public static class Communicator
{
    private static readonly Lock Gate = new();
    private static ICommunicator? _world;

    /// <summary>
    /// World size announced by the launcher in the environment: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE; a PMIx
    /// launcher (e.g. srun --mpi=pmix) sets PMIX_RANK but not the size, reported as 0 (MPI is asked). Null when this
    /// process was not started by an MPI launcher.
    /// </summary>
    /// <exception cref="IOException">An MPICH-family launcher (PMI_RANK without Open MPI's or PMIx's variables): its ABI is not Open MPI's.</exception>
    public static int? LaunchedSize()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int n) && n > 0) return n;
        if (Environment.GetEnvironmentVariable("PMIX_RANK") is not null) return 0;
        if (Environment.GetEnvironmentVariable("PMI_RANK") is not null || Environment.GetEnvironmentVariable("PMI_SIZE") is not null)
            throw new IOException("this process was started by an MPICH-style launcher (PMI_RANK is set): Elongate's data-parallel training binds Open MPI's libmpi; launch it with Open MPI's mpirun");
        return null;
    }

    /// <summary>The communicator of this process (initializing MPI on first use when under mpirun with 2+ processes).</summary>
    public static ICommunicator World
    {
        get
        {
            lock (Gate)
                // One process (no launcher, or -np 1) never loads MPI; a PMIx launch of unknown size asks MPI.
                return _world ??= LaunchedSize() is 0 or > 1 ? MpiCommunicator.Initialize() : SingleProcessCommunicator.Instance;
        }
    }

    /// <summary>
    /// Ends MPI when it was started: a normal end (exit code 0, or 130 after an agreed stop with a checkpoint) finalizes
    /// on every rank; any other code aborts the whole job (MPI_Abort), because the other ranks may be waiting in a
    /// collective that this rank will never join. Does nothing in a single process.
    /// </summary>
    public static void Shutdown(int exitCode)
    {
        ICommunicator? world;
        lock (Gate) world = _world;
        if (world is not MpiCommunicator mpi) return;
        Console.Out.Flush();
        Console.Error.Flush();
        if (exitCode is 0 or 130) mpi.Finish();
        else mpi.Abort(exitCode);
    }
}
