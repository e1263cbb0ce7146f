using System.Globalization;
using Elongate.Formats;

namespace Elongate.Bench.LlamaBench;

/// <summary>The options of <c>model</c> (<c>./elongate bench</c>), parsed and with their defaults applied.</summary>
internal sealed record ModelBenchOptions
{
    public const string Usage = """
        usage: elongate bench [options]      (dotnet run -c Release --project bench/Elongate.Bench -- model [options])
          --shapes S,M,L          model shapes: S 134M, M 1.1B (TinyLlama), L 7B (Llama 2)        [S,M]
          --types q8_0,q4_0,...   GGUF types: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_s q4_k_m q5_k_s q5_k_m q6_k  [q8_0,q4_0,q4_k_m]
          --threads 2[,4]         threads for both engines                                      [all cores]
          --pp 512[,4096]         prompt-processing tests (tokens in one go); 0 for none            [512]
          --tg 128                token-generation tests (one token at a time); 0 for none          [128]
          --depth 4096[,8192]     also run every test after a prompt of this many tokens          [none]
          --reps 3                timed repetitions per test (median, min–max)                    [3]
          --cache-type f16        KV cache of both engines: f32, f16 or q8_0                        [f16, llama.cpp's default]
          --batch N               tokens per forward call   [whole prompt up to 4096, else 512; tg 512]
          --mmap                  map the weights instead of reading them into memory (both engines; --no-mmap: the default)
          --engines ours,llama.cpp                                                               [both]
          --cache-dir DIR         where the generated models are kept          [$TMPDIR/elongate-bench-models]
          --out results.json      everything, as JSON
          --no-limits             skip the memory-bandwidth and sgemm measurements
          --bandwidth-mib 2048    buffer streamed by the bandwidth test; --gemm-size 2048: sgemm n
          --quick                 smoke test: S, q4_0, pp 64, tg 16, 1 rep (explicit options still win)
        """;

    public required BenchShape[] Shapes { get; init; }
    public required string[] Types { get; init; }
    public required int[] Threads { get; init; }
    public required int[] Prompts { get; init; }
    public required int[] Generations { get; init; }
    public required int[] Depths { get; init; }
    public required int Reps { get; init; }
    public required string CacheType { get; init; }
    public int? Batch { get; init; }
    public required bool MemoryMap { get; init; }
    public required string[] Engines { get; init; }
    public required string CacheDir { get; init; }
    public string? Out { get; init; }
    public required bool Limits { get; init; }
    public required long BandwidthBytes { get; init; }
    public required int GemmSize { get; init; }
    public required bool Quick { get; init; }

    /// <summary>Every test, in llama-bench's order: prompts, then generations, each at depth 0 and then each depth.</summary>
    public IEnumerable<BenchTest> Tests() =>
        from depth in Depths
        from test in Prompts.Where(n => n > 0).Select(n => new BenchTest("pp", n, depth))
            .Concat(Generations.Where(n => n > 0).Select(n => new BenchTest("tg", n, depth)))
        select test;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with the problem.</summary>
    public static ModelBenchOptions Parse(string[] args)
    {
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        string[] valued = ["--shapes", "--types", "--threads", "--pp", "--tg", "--depth", "--reps", "--cache-type", "--batch",
            "--engines", "--cache-dir", "--out", "--bandwidth-mib", "--gemm-size"];
        string[] switches = ["--mmap", "--no-mmap", "--quick", "--no-limits"];
        for (int i = 0; i < args.Length; i++)
        {
            if (valued.Contains(args[i]))
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
                given[args[i]] = args[++i];
            }
            else if (switches.Contains(args[i])) flags.Add(args[i]);
            else throw new ArgumentException($"unknown option {args[i]}");
        }
        bool quick = flags.Contains("--quick");
        string Get(string key, string normal, string quickValue) => given.TryGetValue(key, out var v) ? v : quick ? quickValue : normal;
        static int[] Ints(string s, int min) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => int.Parse(x, CultureInfo.InvariantCulture) is var n && n >= min ? n : throw new ArgumentException($"{x} is below {min}")).ToArray();

        var types = Get("--types", "q8_0,q4_0,q4_k_m", "q4_0").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.ToLowerInvariant()).ToArray();
        foreach (var t in types)
            if (!ModelLoader.GgufTypeNames.ContainsKey(t)) throw new ArgumentException($"unknown type '{t}': use {string.Join(", ", ModelLoader.GgufTypeNames.Keys)}");
        var engines = Get("--engines", "ours,llama.cpp", "ours,llama.cpp").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var e in engines)
            if (e is not ("ours" or "llama.cpp")) throw new ArgumentException($"unknown engine '{e}': use ours, llama.cpp");
        var cacheType = Get("--cache-type", "f16", "f16").ToLowerInvariant();
        OurEngine.ParseCacheType(cacheType);
        var depths = Ints(Get("--depth", "", ""), 1);
        var options = new ModelBenchOptions
        {
            Shapes = Get("--shapes", "S,M", "S").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BenchShape.Parse).ToArray(),
            Types = types,
            Threads = Ints(Get("--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), 1),
            Prompts = Ints(Get("--pp", "512", "64"), 0),
            Generations = Ints(Get("--tg", "128", "16"), 0),
            Depths = [0, .. depths.Distinct()],
            Reps = Ints(Get("--reps", "3", "1"), 1)[0],
            CacheType = cacheType,
            Batch = given.TryGetValue("--batch", out var b) ? Ints(b, 1)[0] : null,
            MemoryMap = flags.Contains("--mmap") && !flags.Contains("--no-mmap"),
            Engines = engines,
            CacheDir = given.GetValueOrDefault("--cache-dir") ?? BenchModelCache.DefaultFolder,
            Out = given.GetValueOrDefault("--out"),
            Limits = !flags.Contains("--no-limits"),
            BandwidthBytes = Ints(Get("--bandwidth-mib", "2048", "512"), 64)[0] * 1024L * 1024,
            GemmSize = Ints(Get("--gemm-size", "2048", "1024"), 64)[0],
            Quick = quick,
        };
        if (!options.Tests().Any()) throw new ArgumentException("no tests: give --pp or --tg a positive count");
        if (options.Engines.Length == 0 || options.Shapes.Length == 0 || options.Types.Length == 0) throw new ArgumentException("nothing to run");
        return options;
    }
}
