using System.CommandLine;
using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Cli.Commands;

/// <summary>
/// How every model-running command loads and runs its model: --threads, --mmap/--no-mmap and --cache-type, applied in one
/// place so generate, eval and the experiments behave alike.
/// </summary>
internal sealed class ModelOptions
{
    public Option<int> Threads { get; } = new("--threads") { Description = "Threads for the kernels (default: every core)", DefaultValueFactory = _ => 0 };
    public Option<bool> Mmap { get; } = new("--mmap") { Description = "Memory-map a GGUF's weights instead of reading them into memory (slower decoding on the machines measured)" };
    public Option<bool> NoMmap { get; } = new("--no-mmap") { Description = "Read a GGUF's weights into memory (the default)" };
    public Option<string> CacheType { get; } = new("--cache-type") { Description = "Key/value cache storage: f32, f16 or q8_0", DefaultValueFactory = _ => "f32" };

    public void AddTo(Command command, bool running = true)
    {
        command.Options.Add(Mmap);
        command.Options.Add(NoMmap);
        if (!running) return;
        command.Options.Add(Threads);
        command.Options.Add(CacheType);
    }

    /// <summary>Loads the model with the load options and attaches the inference options for its sessions.</summary>
    public LlamaModel Load(ParseResult parse, string path)
    {
        if (parse.GetValue(Mmap) && parse.GetValue(NoMmap)) throw new ArgumentException("give --mmap or --no-mmap, not both");
        var model = ModelLoader.Load(path, new ModelLoadOptions { MemoryMap = parse.GetValue(Mmap) });
        if (!parse.CommandResult.Command.Options.Contains(Threads)) return model;
        int threads = parse.GetValue(Threads);
        if (threads < 0) throw new ArgumentException("--threads must be ≥ 0 (0 = every core)");
        var cache = parse.GetValue(CacheType)!.ToLowerInvariant() switch
        {
            "f32" => KvCacheType.F32,
            "f16" => KvCacheType.F16,
            "q8_0" => KvCacheType.Q8_0,
            var other => throw new ArgumentException($"--cache-type must be f32, f16 or q8_0, got '{other}'"),
        };
        return model.With(inference: new InferenceOptions { Threads = threads, CacheType = cache });
    }

    /// <summary>
    /// One line on what a session of <paramref name="contextLength"/> positions will take, printed before it is
    /// allocated: the weights (mapped or in memory) and the KV cache plus buffers.
    /// </summary>
    public static void PrintMemory(TextWriter stderr, LlamaModel model, int contextLength)
    {
        var o = model.Inference;
        long session = InferenceSession.RequiredBytes(model.Config, contextLength, Math.Min(o.BatchSize, contextLength), o.CacheType);
        stderr.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"memory: weights {model.WeightBytes / 1048576.0:F0} MiB ({(model.Storage is null ? "in memory" : "memory-mapped")}), context {contextLength:N0} × {o.CacheType} KV cache + buffers {session / 1048576.0:F0} MiB"));
    }
}
