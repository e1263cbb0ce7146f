using Elongate.Formats;
using Elongate.Kernels;
using Elongate.Model;

namespace Elongate.Bench.LlamaBench;

/// <summary>Elongate's engine through its public API only: <see cref="ModelLoader"/>, <see cref="InferenceSession"/>.</summary>
internal sealed class OurEngine : IBenchEngine
{
    private readonly LlamaModel _model;
    private readonly InferenceSession _session;

    public OurEngine(ChildJob job)
    {
        _model = ModelLoader.Load(job.Path, new ModelLoadOptions { MemoryMap = job.MemoryMap });
        var options = new InferenceOptions
        {
            Threads = job.Threads, CacheType = ParseCacheType(job.CacheType), BatchSize = job.Batch,
        };
        _session = new InferenceSession(_model, job.Context, job.Batch, options);
    }

    public static KvCacheType ParseCacheType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => KvCacheType.F32,
        "f16" => KvCacheType.F16,
        "q8_0" => KvCacheType.Q8_0,
        _ => throw new ArgumentException($"cache type must be f32, f16 or q8_0, got '{name}'"),
    };

    public string Description => $"Elongate {typeof(InferenceSession).Assembly.GetName().Version}, {Gemm.BestIsa}";

    public int VocabSize => _model.Config.VocabSize;

    public void Clear() => _session.Reset();

    public void Prompt(ReadOnlySpan<int> tokens, int position)
    {
        if (position != _session.Position) throw new InvalidOperationException($"prompt at {position}, session at {_session.Position}");
        _session.Forward(tokens);
    }

    public void Step(int token, int position) => Prompt([token], position);

    public void Dispose() => _model.Dispose();
}
