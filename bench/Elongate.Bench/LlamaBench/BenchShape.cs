using Elongate.Model;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// A model shape the benchmark writes with random weights: S (134M, a GPT-2-small-sized Llama), M (TinyLlama 1.1B,
/// grouped-query attention) and L (Llama 2 7B). All have a 32,000-token vocabulary and an untied output head, as the
/// real models do, so the per-token weight traffic is theirs.
/// </summary>
internal sealed record BenchShape(string Name, string Description, int Dim, int Layers, int Heads, int KvHeads, int Ffn, int Vocab)
{
    public static readonly BenchShape S = new("S", "134M", 768, 12, 12, 12, 2048, 32000);
    public static readonly BenchShape M = new("M", "1.1B (TinyLlama)", 2048, 22, 32, 4, 5632, 32000);
    public static readonly BenchShape L = new("L", "7B (Llama 2)", 4096, 32, 32, 32, 11008, 32000);

    public static readonly BenchShape[] All = [S, M, L];

    public static BenchShape Parse(string name) =>
        All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown shape '{name}': use S, M or L");

    /// <summary>The config written into the file; <paramref name="context"/> is its llama.context_length.</summary>
    public LlamaConfig Config(int context) => new()
    {
        HiddenSize = Dim, IntermediateSize = Ffn, NumLayers = Layers, NumHeads = Heads, NumKvHeads = KvHeads,
        VocabSize = Vocab, MaxPositionEmbeddings = context, TieWordEmbeddings = false,
    };
}
