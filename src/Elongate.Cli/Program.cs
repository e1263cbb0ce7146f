using Elongate.Cli;
using Elongate.Training.Distributed;

int exitCode = ElongateCli.Build().Parse(args).Invoke();
// Under mpirun: finalize MPI after a normal end, abort the whole job after an error (the other ranks may be waiting for this one).
Communicator.Shutdown(exitCode);
return exitCode;
