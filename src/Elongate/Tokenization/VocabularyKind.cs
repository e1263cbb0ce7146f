namespace Elongate.Tokenization;

/// <summary>The tokenization algorithm a vocabulary belongs to (GGUF <c>tokenizer.ggml.model</c>).</summary>
public enum VocabularyKind
{
    /// <summary>SentencePiece BPE by piece score, "▁" for a space, &lt;0xNN&gt; byte fallback (GGUF "llama": Llama 1/2, Mistral, Phi-3).</summary>
    SentencePiece,

    /// <summary>GPT-2 style byte-level BPE: ranked merges over bytes mapped to printable characters, after a regex
    /// pre-tokenizer split (GGUF "gpt2": Llama 3, DeepSeek, SmolLM, Qwen2, Falcon, StarCoder…).</summary>
    BytePairEncoding,
}
