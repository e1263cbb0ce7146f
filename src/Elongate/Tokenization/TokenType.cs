namespace Elongate.Tokenization;

/// <summary>SentencePiece piece types, numbered as in sentencepiece_model.proto and GGUF tokenizer.ggml.token_type.</summary>
public enum TokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
