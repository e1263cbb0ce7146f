using System.Text.Json;
using System.Text.Json.Nodes;
using LLama.Native;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// llama.cpp through LLamaSharp's CPU backend, set up as llama-bench does: the given threads for both decode and
/// batch work, n_batch = n_ubatch = the benchmark's batch (a whole prompt of up to 4,096 tokens is one llama_decode),
/// the requested KV cache type (F16 is llama.cpp's default), flash attention left on auto, mmap unless told not.
/// </summary>
internal sealed class LlamaCppEngine : IBenchEngine
{
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _context;
    private readonly LLamaBatch _batch = new();
    private readonly int _batchSize;

    public LlamaCppEngine(ChildJob job)
    {
        LoadNative();
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        mp.load_mode = job.MemoryMap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None;
        _model = SafeLlamaModelHandle.LoadFromFile(job.Path, mp);
        var cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)job.Context;
        // llama.cpp wants a batch of at least a few rows; a tg test's batch is 512 anyway.
        _batchSize = Math.Max(job.Batch, 32);
        cp.n_batch = cp.n_ubatch = (uint)_batchSize;
        cp.n_seq_max = 1;
        cp.n_threads = cp.n_threads_batch = job.Threads;
        cp.type_k = cp.type_v = job.CacheType.ToLowerInvariant() switch
        {
            "f32" => GGMLType.GGML_TYPE_F32,
            "f16" => GGMLType.GGML_TYPE_F16,
            "q8_0" => GGMLType.GGML_TYPE_Q8_0,
            _ => throw new ArgumentException($"cache type must be f32, f16 or q8_0, got '{job.CacheType}'"),
        };
        cp.no_perf = true;
        _context = SafeLLamaContextHandle.Create(_model, cp);
    }

    /// <summary>Loads the best CPU build for this machine through LLamaSharp's resolver, once, with its logging off.</summary>
    public static void LoadNative()
    {
        if (NativeLibraryConfig.LLama.LibraryHasLoaded) return;
        NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithAutoFallback(true).WithLogCallback((_, _) => { });
        NativeApi.llama_empty_call();
    }

    /// <summary>
    /// LLamaSharp's NuGet version, from this program's deps.json (the assembly itself is stamped 0.0.0.0), or "unknown".
    /// </summary>
    public static string PackageVersion
    {
        get
        {
            try
            {
                var deps = Path.Combine(AppContext.BaseDirectory, Path.GetFileNameWithoutExtension(typeof(LlamaCppEngine).Assembly.Location) + ".deps.json");
                var libraries = JsonNode.Parse(File.ReadAllText(deps))?["libraries"]?.AsObject();
                var key = libraries?.Select(kv => kv.Key).FirstOrDefault(k => k.StartsWith("LLamaSharp/", StringComparison.Ordinal));
                if (key is not null) return key["LLamaSharp/".Length..];
            }
            catch (IOException) { }
            catch (JsonException) { }
            return "unknown";
        }
    }

    /// <summary>Which native llama.cpp build LLamaSharp loaded (its AVX level), and LLamaSharp's own version.</summary>
    public string Description =>
        $"LLamaSharp {PackageVersion}, " +
        (NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata?.ToString() ?? "unknown native build");

    public int VocabSize => _model.Vocab.Count;

    public void Clear() => _context.MemoryClear(true);

    public void Prompt(ReadOnlySpan<int> tokens, int position)
    {
        for (int start = 0; start < tokens.Length; start += _batchSize)
        {
            int n = Math.Min(_batchSize, tokens.Length - start);
            _batch.Clear();
            // Logits for each call's last token, as llama-bench's llama_batch_get_one asks.
            for (int i = 0; i < n; i++) _batch.Add(tokens[start + i], position + start + i, LLamaSeqId.Zero, i == n - 1);
            Decode();
        }
    }

    public void Step(int token, int position)
    {
        _batch.Clear();
        _batch.Add(token, position, LLamaSeqId.Zero, true);
        Decode();
    }

    private void Decode()
    {
        var rc = _context.Decode(_batch);
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {rc}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _model.Dispose();
    }
}
