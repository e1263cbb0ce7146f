using Elongate.Tokenization;

namespace Elongate.Model;

/// <summary>A loaded model: its hyper-parameters, fp32 weights and, when the file carries one, its vocabulary.</summary>
public sealed class LlamaModel
{
    public required LlamaConfig Config { get; init; }
    public required LlamaWeights Weights { get; init; }
    /// <summary>Vocabulary embedded in the file (GGUF); null for formats that keep it separately.</summary>
    public TokenVocabulary? Vocabulary { get; init; }
    /// <summary>Where the model was read from, for messages.</summary>
    public string Source { get; init; } = "<memory>";
}
