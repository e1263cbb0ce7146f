using System.Globalization;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// The llama-bench-like table, printed a row at a time as results come in (a full run takes long): t/s as median ±
/// half the min–max range, ratio ours / llama.cpp, our rate against the machine limit, peak RSS of each engine's process.
/// </summary>
internal sealed class ResultTable(string[] engines)
{
    private const string Format = "{0,-7} {1,9} {2,8} {3,-7} {4,3} {5,-12} {6,18} {7,18} {8,6} {9,22} {10,15} {11,8}";

    /// <summary>Failures, listed after the table.</summary>
    public List<string> Errors { get; } = [];

    public void WriteHeader()
    {
        string rss = engines.Length == 2 ? "peak MiB us/them" : "peak MiB";
        Line("model", "size", "params", "type", "thr", "test", "ours t/s", "llama.cpp t/s", "ratio", "ours vs limit", rss, "ours s");
        Console.WriteLine(new string('-', 149));
    }

    public void Write(ResultRow r)
    {
        string model = $"{r.Shape.Name} {r.Shape.Description.Split(' ')[0]}";
        string size = $"{r.Stats.SizeBytes / (1024.0 * 1024 * 1024):F2} GiB";
        string parameters = r.Stats.Parameters >= 1_000_000_000 ? $"{r.Stats.Parameters / 1e9:F2}B" : $"{r.Stats.Parameters / 1e6:F1}M";
        string limit = r.Rate(r.Ours) is { } rate
            ? $"{rate:F1} {r.RateUnit}" + (r.FractionOfLimit(r.Ours) is { } f ? $" ({f * 100:F0}%)" : "")
            : "-";
        string rss = string.Join(" / ", engines.Select(e => r.Engines[e] is { Ok: true } s ? (s.PeakRssBytes / (1024.0 * 1024)).ToString("F0", CultureInfo.InvariantCulture) : "-"));
        Line(model, size, parameters, r.Type, r.Threads.ToString(CultureInfo.InvariantCulture), r.Test.Name,
            Rate(r, "ours"), Rate(r, "llama.cpp"), r.Ratio is { } q ? q.ToString("F2", CultureInfo.InvariantCulture) : "-",
            limit, rss, r.Ours is { Ok: true } o ? o.MedianSeconds.ToString("F2", CultureInfo.InvariantCulture) : "-");
    }

    public void WriteFooter()
    {
        Console.WriteLine();
        Console.WriteLine("t/s: median ± half the min–max range over the repetitions; ratio: ours / llama.cpp; ours vs limit: pp as FLOP/s " +
            "(2·matrix params·tokens + attention) against the sgemm peak, tg as weight bytes per token × t/s against the measured " +
            "memory bandwidth; peak MiB: VmHWM of each engine's own process (mapped weight pages included); ours s: median seconds of the test.");
    }

    private string Rate(ResultRow r, string engine)
    {
        if (r.Engines.GetValueOrDefault(engine) is not { } s) return "-";
        if (!s.Ok)
        {
            Errors.Add($"{r.Shape.Name} {r.Type} {r.Test.Name} {engine}: {s.Error}");
            return "error";
        }
        return string.Create(CultureInfo.InvariantCulture, $"{s.Median:F2} ± {(s.Max - s.Min) / 2:F2}");
    }

    private static void Line(params object[] cells) => Console.WriteLine(string.Format(CultureInfo.InvariantCulture, Format, cells));
}
