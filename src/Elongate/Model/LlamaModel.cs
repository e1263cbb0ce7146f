using Elongate.Tokenization;

namespace Elongate.Model;

/// <summary>
/// A loaded model: its hyper-parameters, weights (in their stored types) and, when the file carries one, its
/// vocabulary. A model read with memory mapping owns the open file: dispose the model to unmap it, after which it must
/// not be used. Models built in memory hold nothing to dispose.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    public required LlamaConfig Config { get; init; }
    public required LlamaWeights Weights { get; init; }
    /// <summary>Vocabulary embedded in the file (GGUF); null for formats that keep it separately.</summary>
    public TokenVocabulary? Vocabulary { get; init; }
    /// <summary>Where the model was read from, for messages.</summary>
    public string Source { get; init; } = "<memory>";
    /// <summary>What the weights point into (a mapped file), closed by <see cref="Dispose"/>; null when they are managed.</summary>
    public IDisposable? Storage { get; init; }

    /// <summary>
    /// What sessions on this model use unless they are given other values: threads, cache type and batch size (set once
    /// from the command line, so every evaluation that opens sessions runs the same way).
    /// </summary>
    public InferenceOptions Inference { get; init; } = InferenceOptions.Default;

    /// <summary>The same weights and storage under another config (RoPE overrides) or vocabulary.</summary>
    public LlamaModel With(LlamaConfig? config = null, TokenVocabulary? vocabulary = null, InferenceOptions? inference = null) => new()
    {
        Config = config ?? Config, Weights = Weights, Vocabulary = vocabulary ?? Vocabulary, Source = Source, Storage = Storage,
        Inference = inference ?? Inference,
    };

    /// <summary>Bytes of all weights as stored.</summary>
    public long WeightBytes => Weights.ByteCount(Config);

    /// <summary>Closes the mapped file the weights point into, if any.</summary>
    public void Dispose() => Storage?.Dispose();
}
