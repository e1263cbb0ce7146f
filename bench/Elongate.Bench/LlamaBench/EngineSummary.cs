using System.Text.Json.Nodes;

namespace Elongate.Bench.LlamaBench;

/// <summary>One engine's repetitions of one test: tokens/s median and range, seconds, peak memory — or why it failed.</summary>
internal sealed record EngineSummary(double Median, double Min, double Max, double MedianSeconds, long PeakRssBytes, string? Build, string? Error, JsonObject? Raw)
{
    public bool Ok => Error is null;

    public static EngineSummary Failed(string error) => new(double.NaN, double.NaN, double.NaN, double.NaN, 0, null, error, null);

    public static EngineSummary From(JsonObject child, int tokens)
    {
        var seconds = child["seconds"]!.AsArray().Select(s => (double)s!).Order().ToArray();
        var rates = seconds.Select(s => tokens / s).Order().ToArray();
        return new EngineSummary(MedianOf(rates), rates[0], rates[^1], MedianOf(seconds), (long)child["peakRssBytes"]!,
            (string?)child["build"], null, child);
    }

    private static double MedianOf(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    public JsonObject ToJson()
    {
        if (!Ok) return new JsonObject { ["error"] = Error };
        return new JsonObject
        {
            ["tokensPerSecondMedian"] = Median, ["tokensPerSecondMin"] = Min, ["tokensPerSecondMax"] = Max,
            ["secondsMedian"] = MedianSeconds, ["peakRssBytes"] = PeakRssBytes, ["build"] = Build,
            ["loadSeconds"] = Raw?["loadSeconds"]?.DeepClone(), ["peakRssAfterLoadBytes"] = Raw?["peakRssAfterLoadBytes"]?.DeepClone(),
            ["secondsPerRep"] = Raw?["seconds"]?.DeepClone(),
        };
    }
}
