using System.Diagnostics;
using System.Globalization;

namespace Elongate.Bench;

/// <summary>What every benchmark result names: the CPU, and the process's resident-memory high-water mark.</summary>
internal static class MachineInfo
{
    /// <summary>The "model name" line of /proc/cpuinfo, else the OS description.</summary>
    public static string CpuName()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.Runtime.InteropServices.RuntimeInformation.OSDescription;
    }

    /// <summary>/proc/loadavg's first three fields (1, 5, 15 minutes), or "" where there is none: the machine is shared,
    /// so result files record how busy it was.</summary>
    public static string LoadAverage()
    {
        try { return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : ""; }
        catch (IOException) { return ""; }
    }

    /// <summary>
    /// VmHWM from /proc/self/status (Linux): the peak resident set, including the pages of a memory-mapped model that
    /// were touched, so mapped and copied weights are counted alike. Elsewhere the runtime's peak working set.
    /// </summary>
    public static long PeakResidentBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
            foreach (var line in File.ReadLines(status))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.PeakWorkingSet64;
    }
}
