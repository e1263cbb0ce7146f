using System.Diagnostics;
using Elongate.Formats;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// The random-weight GGUF files, made once per (shape, type, context) in a cache folder and reused by later runs. A
/// file is written tensor by tensor through <see cref="GgufModelWriter"/>'s value-source overload (each tensor's fp32
/// values are generated, quantized, written and dropped), to a temporary name renamed at the end, so an interrupted
/// run leaves no half file under the final name.
/// </summary>
internal static class BenchModelCache
{
    /// <summary>Bumped when the generator or the vocabulary changes, so old cached files are not mistaken for new ones.</summary>
    private const int Version = 1;

    private const ulong Seed = 0x5EED_0001;

    public static string DefaultFolder => Path.Combine(Path.GetTempPath(), "elongate-bench-models");

    /// <summary>The cached file for the shape and type, writing it first when missing.</summary>
    public static string GetOrCreate(string folder, BenchShape shape, string type, int context)
    {
        var path = Path.Combine(folder, $"{shape.Name}-{type}-ctx{context}-v{Version}.gguf");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(folder);
        var config = shape.Config(context);
        Console.Error.Write($"writing {Path.GetFileName(path)} (random weights, {shape.Description}) … ");
        var sw = Stopwatch.StartNew();
        GgufModelWriter.Save(path, config, ModelLoader.GgufTypeNames[type], BenchVocabulary.Make(shape.Vocab),
            spec => RandomWeights.Values(spec, Seed), name: $"elongate-bench {shape.Name} {shape.Description} random {type}");
        Console.Error.WriteLine($"{new FileInfo(path).Length / (1024.0 * 1024 * 1024):F2} GiB in {sw.Elapsed.TotalSeconds:F0} s");
        return path;
    }
}
