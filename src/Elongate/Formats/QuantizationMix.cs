using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// The per-tensor type llama-quantize picks for a Llama model without an importance matrix (llama.cpp's
/// llama_tensor_get_type / llama_tensor_get_type_impl / tensor_type_fallback in src/llama-quant.cpp), so a file we
/// quantize has the same tensor types as `llama-quantize model-f32.gguf out.gguf Q4_K_M`. Only the rules that can
/// fire for the llama architecture, the file types of <see cref="GgufOutputType"/> and no experts are kept:
/// <list type="table">
/// <listheader><term>file type</term><description>tensor types (n = layers, i = layer; use_more_bits(i, n) is
/// i &lt; n/8 or i ≥ 7n/8 or (i − n/8) mod 3 = 2)</description></listheader>
/// <item><term>Q4_0, Q4_1, Q5_0, Q5_1</term><description>that type; output.weight (or token_embd.weight when the head
/// is tied) Q6_K</description></item>
/// <item><term>Q4_K_S</term><description>Q4_K; attn_v of layers 0–3 and ffn_down of layers i &lt; n/8 Q5_K; head Q6_K</description></item>
/// <item><term>Q4_K_M</term><description>Q4_K; attn_v and ffn_down Q6_K where use_more_bits; head Q6_K</description></item>
/// <item><term>Q5_K_S</term><description>Q5_K; head Q6_K</description></item>
/// <item><term>Q5_K_M</term><description>Q5_K; attn_v and ffn_down Q6_K where use_more_bits; head Q6_K</description></item>
/// <item><term>Q6_K</term><description>Q6_K everywhere</description></item>
/// </list>
/// Everywhere: 1-D tensors (norm gains) and *_norm.weight stay F32; a Llama-2-70B shape (80 layers with GQA) lifts
/// Q4_K attn_v to Q5_K; a head whose rows are not a multiple of the default type's block becomes Q8_0; then a
/// k-quant whose rows are not a multiple of 256 falls back to Q5_0 (for Q4_K), Q5_1 (Q5_K) or Q8_0 (Q6_K), and to F16
/// if the rows are not a multiple of 32 either. For Q4_0…Q5_1 with rows not a multiple of 32 llama-quantize has no
/// fallback and fails; we write F16 there instead, as our Q8_0 writer does (convert_hf_to_gguf.py's rule).
/// </summary>
/// <remarks>
/// llama.cpp counts attn_v and ffn_down tensors as it meets them (i_attention_wv, i_ffn_down) against totals
/// n_attention_wv (the number of attn_v tensors) and n_ffn_down (n_layer). It visits tensors sorted by layer number
/// (llama_model_loader's weight_name_comparer reads "blk.%d."), and a Llama layer has one attn_v and one ffn_down, so
/// both counters equal the layer index taken from the tensor's name and both totals equal the layer count.
/// </remarks>
public static class QuantizationMix
{
    /// <summary>True for the llama-quantize file types whose tensor types this class chooses.</summary>
    public static bool IsMixture(GgufOutputType type) => type is GgufOutputType.Q4_0 or GgufOutputType.Q4_1
        or GgufOutputType.Q5_0 or GgufOutputType.Q5_1 or GgufOutputType.Q4_K_S or GgufOutputType.Q4_K_M
        or GgufOutputType.Q5_K_S or GgufOutputType.Q5_K_M or GgufOutputType.Q6_K;

    /// <summary>The type most matrices get (llama_ftype_get_default_type).</summary>
    public static GgmlType DefaultType(GgufOutputType type) => type switch
    {
        GgufOutputType.Q4_0 => GgmlType.Q4_0,
        GgufOutputType.Q4_1 => GgmlType.Q4_1,
        GgufOutputType.Q5_0 => GgmlType.Q5_0,
        GgufOutputType.Q5_1 => GgmlType.Q5_1,
        GgufOutputType.Q4_K_S or GgufOutputType.Q4_K_M => GgmlType.Q4_K,
        GgufOutputType.Q5_K_S or GgufOutputType.Q5_K_M => GgmlType.Q5_K,
        GgufOutputType.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a llama-quantize file type"),
    };

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layerCount) =>
        layer < layerCount / 8 || layer >= 7 * layerCount / 8 || (layer - layerCount / 8) % 3 == 2;

    /// <summary>
    /// The GGML type of tensor <paramref name="name"/> (GGUF name, e.g. "blk.3.attn_v.weight") with shape
    /// <paramref name="ne"/> (ggml order, ne[0] = row length) in a <paramref name="type"/> file of a model with
    /// <paramref name="layerCount"/> layers. <paramref name="hasOutputTensor"/> is false for a tied head (no
    /// output.weight), which makes token_embd.weight take the head's type. <paramref name="headCount"/> and
    /// <paramref name="kvHeadCount"/> only matter for llama.cpp's 70B rule (80 layers, fewer KV heads than heads).
    /// </summary>
    public static GgmlType TensorType(GgufOutputType type, string name, long[] ne, int layerCount, bool hasOutputTensor,
        int headCount = 0, int kvHeadCount = 0)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(ne);
        var t = DefaultType(type);
        // tensor_allows_quantization: matrices named *weight, but not norms. Our source tensors are all F32.
        if (ne.Length < 2 || !name.EndsWith("weight", StringComparison.Ordinal) || name.Contains("_norm.weight", StringComparison.Ordinal))
            return GgmlType.F32;
        long nx = ne[0];
        int layer = LayerOf(name);

        if (name == "output.weight" || (!hasOutputTensor && name == "token_embd.weight"))
        {
            // The head is the most sensitive matrix: Q6_K unless the file is Q8_0 or its rows do not fit the default
            // type's blocks (then Q8_0).
            if (nx % GgmlTypes.BlockSize(t) != 0) t = GgmlType.Q8_0;
            else if (t != GgmlType.Q8_0) t = GgmlType.Q6_K;
        }
        else if (name == "token_embd.weight")
        {
            // An untied embedding keeps the default type for these file types (only IQ/TQ/Q2 files change it).
        }
        else if (name.Contains("attn_v.weight", StringComparison.Ordinal) || name.Contains("attn_qkv.weight", StringComparison.Ordinal)
                 || name.Contains("attn_kv_b.weight", StringComparison.Ordinal))
        {
            if (type is GgufOutputType.Q4_K_M or GgufOutputType.Q5_K_M && UseMoreBits(layer, layerCount)) t = GgmlType.Q6_K;
            else if (type == GgufOutputType.Q4_K_S && layer < 4) t = GgmlType.Q5_K;
            // LLM_TYPE_70B: eight heads share each V, so V is 8× smaller than Q and more bits are nearly free.
            if (layerCount == 80 && headCount != kvHeadCount && t == GgmlType.Q4_K) t = GgmlType.Q5_K;
        }
        else if (name.Contains("ffn_down", StringComparison.Ordinal))
        {
            if (type is GgufOutputType.Q4_K_M or GgufOutputType.Q5_K_M && UseMoreBits(layer, layerCount)) t = GgmlType.Q6_K;
            else if (type == GgufOutputType.Q4_K_S && layer < layerCount / 8) t = GgmlType.Q5_K;
        }

        return Fallback(t, nx);
    }

    /// <summary>tensor_type_fallback: a type whose block does not divide the row length is replaced.</summary>
    private static GgmlType Fallback(GgmlType t, long nx)
    {
        if (nx % GgmlTypes.BlockSize(t) == 0) return t;
        var f = t switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => GgmlType.F16, // llama-quantize throws "no tensor type fallback"; see the class remarks
        };
        return nx % GgmlTypes.BlockSize(f) == 0 ? f : GgmlType.F16;
    }

    /// <summary>The N of "blk.N.…", or -1 (llama.cpp's sscanf default) for tensors outside the blocks.</summary>
    private static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int l) ? l : -1;
    }
}
