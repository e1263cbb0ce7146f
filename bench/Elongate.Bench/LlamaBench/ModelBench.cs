using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// <c>model</c> (<c>./elongate bench</c>): llama-bench for our engine and llama.cpp side by side, on the same
/// random-weight GGUF files, with the same threads, in the same run. For every (shape, type, threads, test) each engine
/// runs in its own child process (peak RSS per engine, no shared page cache state or threads), and the numbers are read
/// against the machine's measured memory bandwidth (generation) and sgemm peak (prompts).
/// </summary>
internal static class ModelBench
{
    public static int Run(string[] args)
    {
        if (args.Length == 2 && args[0] == "--child") return ChildRunner.Run(args[1]);
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(ModelBenchOptions.Usage);
            return 0;
        }
        ModelBenchOptions o;
        try
        {
            o = ModelBenchOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"elongate bench: {e.Message}");
            Console.Error.WriteLine(ModelBenchOptions.Usage);
            return 2;
        }

        var total = Stopwatch.StartNew();
        string cpu = MachineInfo.CpuName();
        string llamaSharp = LlamaCppEngine.PackageVersion;
        Console.WriteLine($"CPU: {cpu}, {Environment.ProcessorCount} logical cores; threads {string.Join(",", o.Threads)}; " +
            $"KV cache {o.CacheType}; {(o.MemoryMap ? "mmap" : "no mmap")}; {o.Reps} rep(s); LLamaSharp {llamaSharp}; models in {o.CacheDir}");

        // Models first (writing one can take minutes for L), so the timed part and its table run uninterrupted.
        // 32,768 positions unless a test needs more (llama.cpp warns past the trained context).
        int context = Math.Max(32768, (o.Tests().Max(t => t.Context) + 1023) / 1024 * 1024);
        var files = new List<(BenchShape Shape, string Type, string Path, ModelStats Stats)>();
        foreach (var shape in o.Shapes)
            foreach (var type in o.Types)
            {
                string path = BenchModelCache.GetOrCreate(o.CacheDir, shape, type, context);
                files.Add((shape, type, path, ModelStats.Of(path)));
            }

        var limits = new Dictionary<int, JsonObject>();
        if (o.Limits)
            foreach (int t in o.Threads)
            {
                var job = new ChildJob { Engine = "limits", Threads = t, BandwidthBytes = o.BandwidthBytes, GemmSize = o.GemmSize };
                try
                {
                    limits[t] = job.RunInChild();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"machine limits, {t} thread(s): memory read {(double)limits[t]["bandwidthGBs"]!:F1} GB/s ({o.BandwidthBytes >> 20} MiB buffer), " +
                        $"sgemm {(double)limits[t]["sgemmGflops"]!:F1} GFLOP/s (n = {o.GemmSize}, {limits[t]["gemmIsa"]})"));
                }
                catch (ChildFailedException e)
                {
                    Console.WriteLine($"machine limits, {t} thread(s): {e.Message}");
                }
            }
        Console.WriteLine();

        var table = new ResultTable(o.Engines);
        table.WriteHeader();
        var models = new JsonArray();
        var results = new JsonArray();
        string? llamaBuild = null, ourBuild = null;
        foreach (var (shape, type, path, stats) in files)
        {
            models.Add(new JsonObject
            {
                ["shape"] = shape.Name, ["description"] = shape.Description, ["type"] = type, ["path"] = path,
                ["sizeBytes"] = stats.SizeBytes, ["parameters"] = stats.Parameters, ["weightBytesPerToken"] = stats.WeightBytesPerToken,
                ["contextLength"] = context,
                ["config"] = JsonSerializer.SerializeToNode(new { shape.Dim, shape.Layers, shape.Heads, shape.KvHeads, shape.Ffn, shape.Vocab }),
            });
            foreach (int threads in o.Threads)
                foreach (var test in o.Tests())
                {
                    int batch = Math.Min(o.Batch ?? test.DefaultBatch, test.Context);
                    var summaries = new Dictionary<string, EngineSummary>();
                    foreach (var engine in o.Engines)
                    {
                        var job = new ChildJob
                        {
                            Engine = engine, Path = path, Threads = threads, Kind = test.Kind, Tokens = test.Tokens, Depth = test.Depth,
                            Reps = o.Reps, Batch = batch, Context = test.Context, CacheType = o.CacheType, MemoryMap = o.MemoryMap,
                        };
                        try
                        {
                            summaries[engine] = EngineSummary.From(job.RunInChild(), test.Tokens);
                        }
                        catch (ChildFailedException e)
                        {
                            summaries[engine] = EngineSummary.Failed(e.Message);
                        }
                    }
                    if (summaries.GetValueOrDefault("llama.cpp") is { Ok: true } l) llamaBuild ??= l.Build;
                    if (summaries.GetValueOrDefault("ours") is { Ok: true } u) ourBuild ??= u.Build;
                    var row = new ResultRow(shape, type, stats, threads, test, batch, summaries, limits.GetValueOrDefault(threads));
                    table.Write(row);
                    var json = row.ToJson();
                    json["cpu"] = cpu;
                    results.Add(json);
                }
        }
        table.WriteFooter();
        foreach (var row in table.Errors) Console.WriteLine(row);

        var doc = new JsonObject
        {
            ["benchmark"] = "elongate bench (llama-bench style: ours vs llama.cpp)",
            ["cpu"] = cpu,
            ["logicalCores"] = Environment.ProcessorCount,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["dotnet"] = Environment.Version.ToString(),
            ["timestampUtc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["wallSeconds"] = total.Elapsed.TotalSeconds,
            ["parameters"] = new JsonObject
            {
                ["shapes"] = new JsonArray(o.Shapes.Select(s => (JsonNode)s.Name).ToArray()),
                ["types"] = new JsonArray(o.Types.Select(t => (JsonNode)t).ToArray()),
                ["threads"] = new JsonArray(o.Threads.Select(t => (JsonNode)t).ToArray()),
                ["pp"] = new JsonArray(o.Prompts.Select(t => (JsonNode)t).ToArray()),
                ["tg"] = new JsonArray(o.Generations.Select(t => (JsonNode)t).ToArray()),
                ["depth"] = new JsonArray(o.Depths.Select(t => (JsonNode)t).ToArray()),
                ["reps"] = o.Reps, ["cacheType"] = o.CacheType, ["batch"] = o.Batch, ["mmap"] = o.MemoryMap,
                ["engines"] = new JsonArray(o.Engines.Select(e => (JsonNode)e).ToArray()), ["cacheDir"] = o.CacheDir, ["quick"] = o.Quick,
                ["bandwidthBytes"] = o.BandwidthBytes, ["gemmSize"] = o.GemmSize,
            },
            ["llamaSharp"] = llamaSharp,
            ["llamaCppBuild"] = llamaBuild,
            ["ours"] = ourBuild,
            ["limits"] = new JsonArray(limits.Values.Select(v => (JsonNode)v.DeepClone()).ToArray()),
            ["models"] = models,
            ["results"] = results,
        };
        if (o.Out is not null)
        {
            var full = Path.GetFullPath(o.Out);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full + ".tmp", doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            File.Move(full + ".tmp", full, overwrite: true);
            Console.WriteLine($"wrote {o.Out}");
        }
        Console.WriteLine($"llama.cpp: {llamaBuild ?? "not run"}; ours: {ourBuild ?? "not run"}; {total.Elapsed.TotalSeconds:F0} s");
        return table.Errors.Count == 0 ? 0 : 1;
    }
}
