using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// One measurement handed to a child process (this program run again as <c>model --child JSON</c>): an engine test, or
/// the machine limits. A fresh process per measurement makes each VmHWM belong to that engine and test alone, and
/// keeps one engine's threads, allocations and warmed caches from leaking into the other's numbers.
/// </summary>
internal sealed record ChildJob
{
    /// <summary>"ours", "llama.cpp" or "limits".</summary>
    public required string Engine { get; init; }
    public string Path { get; init; } = "";
    public int Threads { get; init; }
    public string Kind { get; init; } = "pp";
    public int Tokens { get; init; }
    public int Depth { get; init; }
    public int Reps { get; init; } = 1;
    public int Batch { get; init; }
    public int Context { get; init; }
    public string CacheType { get; init; } = "f16";
    public bool MemoryMap { get; init; }
    /// <summary>Limits only: bytes streamed by the bandwidth test and the sgemm size.</summary>
    public long BandwidthBytes { get; init; }
    public int GemmSize { get; init; }

    public BenchTest Test => new(Kind, Tokens, Depth);

    /// <summary>Runs the job in a child process and returns the JSON object it printed last.</summary>
    public JsonObject RunInChild()
    {
        string exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Each child times few calls, so it must not start on tier-0 (unoptimized) code: full JIT from the first call.
        psi.Environment["DOTNET_TieredCompilation"] = "0";
        // Under `dotnet Elongate.Bench.dll` the process is the host; the child needs the assembly path first.
        if (System.IO.Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(ChildJob).Assembly.Location);
        psi.ArgumentList.Add("model");
        psi.ArgumentList.Add("--child");
        psi.ArgumentList.Add(JsonSerializer.Serialize(this));
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var last = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        if (p.ExitCode != 0 || last is null)
        {
            var err = stderr.Result.Trim();
            throw new ChildFailedException($"{Engine} child failed (exit {p.ExitCode}): {(err.Length > 600 ? err[^600..] : err)}");
        }
        return (JsonObject)JsonNode.Parse(last)!;
    }
}

/// <summary>A child measurement that did not finish (out of memory, an engine error): reported in its row, the run goes on.</summary>
internal sealed class ChildFailedException(string message) : Exception(message);
