namespace Elongate.Formats;

/// <summary>The checkpoint formats Elongate reads and writes.</summary>
public enum ModelFileFormat
{
    /// <summary>llama.cpp's GGUF (v2/v3).</summary>
    Gguf,
    /// <summary>karpathy/llama2.c version-0 checkpoint (.bin).</summary>
    Llama2c,
    /// <summary>Hugging Face folder: config.json + model.safetensors (or a sharded index).</summary>
    HuggingFace,
}
