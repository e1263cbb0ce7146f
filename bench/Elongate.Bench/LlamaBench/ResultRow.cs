using System.Text.Json.Nodes;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// One test of one model at one thread count, both engines, with the figures read against the machine's limits:
/// generation as weight bytes streamed per second (bytes per token × tokens/s) against the measured bandwidth, a
/// prompt as FLOP/s against the sgemm peak.
/// </summary>
internal sealed record ResultRow(BenchShape Shape, string Type, ModelStats Stats, int Threads, BenchTest Test, int Batch,
    IReadOnlyDictionary<string, EngineSummary> Engines, JsonObject? Limits)
{
    public EngineSummary? Ours => Engines.GetValueOrDefault("ours");
    public EngineSummary? LlamaCpp => Engines.GetValueOrDefault("llama.cpp");

    public double? Ratio => Ours is { Ok: true } a && LlamaCpp is { Ok: true } b ? a.Median / b.Median : null;

    /// <summary>tg: GB/s of weights; pp: GFLOP/s.</summary>
    public double? Rate(EngineSummary? e) => e is not { Ok: true } ? null
        : Test.IsPrompt ? Stats.PromptFlops(Test.Tokens, Test.Depth) * e.Median / Test.Tokens / 1e9
        : Stats.WeightBytesPerToken * e.Median / 1e9;

    /// <summary>The rate as a fraction of the bandwidth (tg) or sgemm peak (pp) measured in this run.</summary>
    public double? FractionOfLimit(EngineSummary? e)
    {
        var limit = Limits?[Test.IsPrompt ? "sgemmGflops" : "bandwidthGBs"];
        return Rate(e) is { } r && limit is not null ? r / (double)limit : null;
    }

    public string RateUnit => Test.IsPrompt ? "GFLOP/s" : "GB/s";

    public JsonObject ToJson()
    {
        var engines = new JsonObject();
        foreach (var (name, s) in Engines)
        {
            var j = s.ToJson();
            if (s.Ok)
            {
                j[Test.IsPrompt ? "gflops" : "weightGBs"] = Rate(s);
                j[Test.IsPrompt ? "fractionOfSgemmPeak" : "fractionOfBandwidth"] = FractionOfLimit(s);
            }
            engines[name] = j;
        }
        return new JsonObject
        {
            ["model"] = Shape.Name, ["type"] = Type, ["sizeBytes"] = Stats.SizeBytes, ["parameters"] = Stats.Parameters,
            ["threads"] = Threads, ["test"] = Test.Name, ["kind"] = Test.Kind, ["tokens"] = Test.Tokens, ["depth"] = Test.Depth,
            ["batch"] = Batch, ["context"] = Test.Context,
            ["weightBytesPerToken"] = Stats.WeightBytesPerToken,
            ["promptFlops"] = Test.IsPrompt ? Stats.PromptFlops(Test.Tokens, Test.Depth) : null,
            ["ratioOursToLlamaCpp"] = Ratio,
            ["engines"] = engines,
        };
    }
}
