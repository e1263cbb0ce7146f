using System.Diagnostics;
using System.Text;

namespace Elongate.Tests.Training;

/// <summary>
/// Runs the built CLI (Elongate.Cli.dll beside the tests) as real processes: alone, or as an Open MPI job through
/// <c>mpirun</c>. Without mpirun the MPI tests skip with the reason, except under CI=true, where .ci/run installs Open
/// MPI and its absence is a failure.
/// </summary>
internal static class MpiJob
{
    /// <summary>mpirun's options for any machine: root allowed (containers, CI), more ranks than cores allowed, no core binding (ranks share small machines).</summary>
    public static readonly string[] LaunchOptions = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"];

    private static readonly Lazy<string?> MpirunPath = new(() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists));

    /// <summary>mpirun's path; skips the test (fails under CI=true) when it is not installed.</summary>
    public static string Mpirun()
    {
        if (MpirunPath.Value is { } path) return path;
        const string reason = "mpirun (Open MPI) is not installed: apt-get install openmpi-bin libopenmpi-dev (.ci/run does this)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"CI=true requires Open MPI: {reason}");
        throw new SkipException(reason);
    }

    /// <summary>The CLI assembly the tests were built with.</summary>
    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "Elongate.Cli.dll");

    private static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";

    /// <summary>Starts <c>mpirun -np N … dotnet Elongate.Cli.dll ARGS</c>, each rank on one thread when <paramref name="oneThread"/>.</summary>
    public static Process StartMpi(int ranks, bool oneThread, params string[] args)
    {
        var psi = new ProcessStartInfo(Mpirun()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-np", ranks.ToString(), .. LaunchOptions]) psi.ArgumentList.Add(a);
        if (oneThread) foreach (var a in (string[])["-x", "DOTNET_PROCESSOR_COUNT=1"]) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(DotnetHost);
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        return Start(psi);
    }

    /// <summary>Runs the CLI as one process (on one thread when <paramref name="oneThread"/>), outside MPI.</summary>
    public static (int Rc, string Output) RunSingle(bool oneThread, params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (oneThread) psi.Environment["DOTNET_PROCESSOR_COUNT"] = "1";
        // The test host itself never runs under mpirun, but be sure no launcher variables leak into the child.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("OMPI_", StringComparison.Ordinal) || k.StartsWith("PMIX_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        return Wait(Start(psi));
    }

    /// <summary>Runs the CLI as one process with extra environment variables.</summary>
    public static (int Rc, string Output) RunSingleWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        return Wait(Start(psi));
    }

    /// <summary>Runs an MPI job to its end.</summary>
    public static (int Rc, string Output) RunMpi(int ranks, bool oneThread, params string[] args) => Wait(StartMpi(ranks, oneThread, args));

    private static readonly Dictionary<int, StringBuilder> Outputs = [];

    private static Process Start(ProcessStartInfo psi)
    {
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var sb = new StringBuilder();
        lock (Outputs) Outputs[p.Id] = sb;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (sb) sb.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Waits for <paramref name="p"/> (at most 3 minutes, then kills it) and returns its exit code and output.</summary>
    public static (int Rc, string Output) Wait(Process p)
    {
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("the job did not end within 3 minutes");
        }
        p.WaitForExit();
        StringBuilder sb;
        lock (Outputs)
        {
            sb = Outputs[p.Id];
            Outputs.Remove(p.Id);
        }
        lock (sb) return (p.ExitCode, sb.ToString());
    }

    /// <summary>The process id of rank <paramref name="rank"/> among <paramref name="mpirun"/>'s children (one machine: mpirun starts the ranks itself).</summary>
    public static int? RankPid(Process mpirun, int rank)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // Field 4 (after "pid (comm) state") is the parent's id; comm may hold spaces, so read after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1]) != mpirun.Id) continue;
                var env = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (env.Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while we looked.
            }
        }
        return null;
    }
}
