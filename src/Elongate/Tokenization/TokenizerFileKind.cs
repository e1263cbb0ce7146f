
namespace Elongate.Tokenization;

/// <summary>What a tokenizer file holds, judged from its first bytes (<see cref="Formats.TokenizerLoader.Detect"/>).</summary>
public enum TokenizerFileKind
{
    /// <summary>None of the formats below.</summary>
    Unknown,
    /// <summary>SentencePiece ModelProto (tokenizer.model).</summary>
    SentencePieceModel,
    /// <summary>llama2.c tokenizer.bin.</summary>
    Llama2cBin,
    /// <summary>GGUF (magic "GGUF"); its vocabulary lives in tokenizer.ggml.* metadata.</summary>
    Gguf,
    /// <summary>JSON text (a Hugging Face tokenizer.json, read by <see cref="Formats.HfTokenizerReader"/>).</summary>
    Json,
}
