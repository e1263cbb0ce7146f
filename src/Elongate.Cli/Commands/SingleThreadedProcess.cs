using System.CommandLine;
using System.Diagnostics;
using System.Reflection;

namespace Elongate.Cli.Commands;

/// <summary>
/// `--deterministic`: re-runs the same command line in a child process started with DOTNET_PROCESSOR_COUNT=1. The
/// runtime then reports one processor, and every kernel (they all check <see cref="Environment.ProcessorCount"/>)
/// runs on the calling thread. A process cannot narrow itself once started, hence the child.
/// </summary>
internal static class SingleThreadedProcess
{
    private const string Variable = "DOTNET_PROCESSOR_COUNT";

    /// <summary>
    /// Null when this process already runs on one processor (go on in process); otherwise the exit code of the child
    /// that ran the command. Its output goes to <paramref name="stdout"/>/<paramref name="stderr"/>, or straight to the
    /// terminal when those are the console (so the live progress bar still draws).
    /// </summary>
    public static int? Relaunch(ParseResult parse, TextWriter stdout, TextWriter stderr)
    {
        if (Environment.ProcessorCount == 1) return null;
        var cli = typeof(ElongateCli).Assembly;
        var processPath = Environment.ProcessPath;
        bool selfIsCli = Assembly.GetEntryAssembly() == cli && processPath is not null;
        bool viaHost = !selfIsCli || Path.GetFileNameWithoutExtension(processPath!).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        var psi = new ProcessStartInfo(selfIsCli ? processPath! : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { UseShellExecute = false };
        if (viaHost) psi.ArgumentList.Add(cli.Location);
        foreach (var token in parse.Tokens) psi.ArgumentList.Add(token.Value);
        psi.Environment[Variable] = "1";
        bool inherit = ReferenceEquals(stdout, Console.Out) && ReferenceEquals(stderr, Console.Error);
        psi.RedirectStandardOutput = psi.RedirectStandardError = !inherit;

        // Ctrl+C reaches the child too, which checkpoints and exits; this process just waits for it.
        ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = true;
        Console.CancelKeyPress += onCancel;
        try
        {
            Process? started;
            try
            {
                started = Process.Start(psi);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new IOException($"--deterministic could not start the single-threaded child ({psi.FileName}): {e.Message}", e);
            }
            using var child = started ?? throw new IOException($"--deterministic could not start {psi.FileName}");
            if (!inherit)
            {
                var gate = new object();
                child.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (gate) stdout.WriteLine(e.Data); };
                child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (gate) stderr.WriteLine(e.Data); };
                child.BeginOutputReadLine();
                child.BeginErrorReadLine();
            }
            child.WaitForExit();
            return child.ExitCode;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
