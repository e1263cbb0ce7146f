namespace Elongate.Tokenization;

/// <summary>
/// Whitespace a special token swallows next to it when it is cut out of text (Hugging Face added_tokens' lstrip /
/// rstrip; llama.cpp's LSTRIP/RSTRIP token attributes): Phi-3's "&lt;|user|&gt;\n" encodes as the token alone.
/// </summary>
[Flags]
public enum TokenStrip
{
    None = 0,
    /// <summary>Whitespace before the token is dropped.</summary>
    Left = 1,
    /// <summary>Whitespace after the token is dropped.</summary>
    Right = 2,
}
