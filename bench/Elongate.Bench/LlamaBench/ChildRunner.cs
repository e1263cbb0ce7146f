using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Elongate.Bench.LlamaBench;

/// <summary>The child side of <see cref="ChildJob"/>: runs one measurement and prints one JSON line.</summary>
internal static class ChildRunner
{
    public static int Run(string jobJson)
    {
        var job = JsonSerializer.Deserialize<ChildJob>(jobJson) ?? throw new ArgumentException("empty child job");
        var result = job.Engine == "limits" ? MachineLimits.Measure(job) : MeasureEngine(job);
        result["peakRssBytes"] = MachineInfo.PeakResidentBytes();
        Console.WriteLine(result.ToJsonString());
        return 0;
    }

    /// <summary>
    /// llama-bench's procedure: one untimed warm-up (a prompt of one batch for pp, a few tokens for tg), then per
    /// repetition: clear the cache, fill it with the depth prompt (untimed), and time the test alone.
    /// </summary>
    private static JsonObject MeasureEngine(ChildJob job)
    {
        var test = job.Test;
        var load = Stopwatch.StartNew();
        using IBenchEngine engine = job.Engine switch
        {
            "ours" => new OurEngine(job),
            "llama.cpp" => new LlamaCppEngine(job),
            _ => throw new ArgumentException($"unknown engine '{job.Engine}'"),
        };
        double loadSeconds = load.Elapsed.TotalSeconds;
        long afterLoad = MachineInfo.PeakResidentBytes();
        int vocab = engine.VocabSize;
        var depthTokens = BenchVocabulary.Tokens(test.Depth, vocab);
        var timed = BenchVocabulary.Tokens(test.Tokens + 1, vocab, offset: test.Depth);

        engine.Clear();
        if (test.IsPrompt) engine.Prompt(timed.AsSpan(0, Math.Min(test.Tokens, job.Batch)), 0);
        else
        {
            engine.Prompt(timed.AsSpan(0, 1), 0);
            for (int k = 0; k < Math.Min(test.Tokens, 4); k++) engine.Step(timed[k + 1], k + 1);
        }

        var seconds = new JsonArray();
        for (int r = 0; r < job.Reps; r++)
        {
            engine.Clear();
            if (test.Depth > 0) engine.Prompt(depthTokens, 0);
            Stopwatch sw;
            if (test.IsPrompt)
            {
                sw = Stopwatch.StartNew();
                engine.Prompt(timed.AsSpan(0, test.Tokens), test.Depth);
            }
            else
            {
                engine.Prompt(timed.AsSpan(0, 1), test.Depth);
                sw = Stopwatch.StartNew();
                for (int k = 0; k < test.Tokens; k++) engine.Step(timed[k + 1], test.Depth + 1 + k);
            }
            seconds.Add(sw.Elapsed.TotalSeconds);
        }
        return new JsonObject
        {
            ["engine"] = job.Engine,
            ["build"] = engine.Description,
            ["test"] = test.Name,
            ["loadSeconds"] = loadSeconds,
            ["peakRssAfterLoadBytes"] = afterLoad,
            ["seconds"] = seconds,
        };
    }
}
