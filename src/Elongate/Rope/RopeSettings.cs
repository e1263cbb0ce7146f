using System.Text.Json.Nodes;

namespace Elongate.Rope;

/// <summary>
/// Everything a model file says about its rotary embedding: base, rotary width and scaling. GGUF gives the width as
/// <see cref="DimensionCount"/> (rope.dimension_count), Hugging Face as <see cref="PartialRotaryFactor"/>.
/// </summary>
public sealed record RopeSettings
{
    /// <summary>RoPE base b (GGUF rope.freq_base, HF rope_theta).</summary>
    public double Base { get; init; } = 10000.0;

    /// <summary>GGUF rope.dimension_count, when the file gives one.</summary>
    public int? DimensionCount { get; init; }

    /// <summary>HF partial_rotary_factor, when the config gives one.</summary>
    public double? PartialRotaryFactor { get; init; }

    /// <summary>The scaling (never null; <see cref="RopeScaling.None"/> for plain RoPE).</summary>
    public RopeScaling Scaling { get; init; } = RopeScaling.None;

    /// <summary>Rotated part of a head of <paramref name="headDim"/> dimensions (HF: int(headDim·factor), as transformers).</summary>
    public int RotaryDim(int headDim) =>
        DimensionCount ?? (PartialRotaryFactor is { } f ? (int)(headDim * f) : headDim);

    /// <summary>The embedding for heads of <paramref name="headDim"/> dimensions with these settings.</summary>
    public RotaryEmbedding CreateEmbedding(int headDim, int xposCentre = 0) =>
        new(Base, RotaryDim(headDim), headDim, Scaling, xposCentre);

    /// <summary>GGUF metadata for these settings (see <see cref="RopeScaling.ToGgufMetadata"/> for the scaling keys).</summary>
    public IEnumerable<KeyValuePair<string, object>> ToGgufMetadata(string arch)
    {
        yield return new($"{arch}.rope.freq_base", (float)Base);
        if (DimensionCount is { } d) yield return new($"{arch}.rope.dimension_count", (uint)d);
        foreach (var kv in Scaling.ToGgufMetadata(arch)) yield return kv;
    }

    /// <summary>Writes rope_theta, partial_rotary_factor and rope_scaling into a Hugging Face config object.</summary>
    public void ToHfConfig(JsonObject config)
    {
        config["rope_theta"] = Base;
        if (PartialRotaryFactor is { } f) config["partial_rotary_factor"] = f; else config.Remove("partial_rotary_factor");
        Scaling.ToHfConfig(config);
    }
}
