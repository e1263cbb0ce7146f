using Elongate.Common;
using Elongate.Formats;

namespace Elongate.Tests.Formats;

/// <summary>
/// The mixture rules on shapes the llama.cpp comparisons (LlamaCppQuantizerTests) do not reach cheaply: 32- and
/// 80-layer models, and rows our writer handles where llama-quantize has no fallback.
/// </summary>
public class QuantizationMixTests
{
    private static GgmlType T(GgufOutputType type, string name, int layers, long rows = 4096, int heads = 32, int kvHeads = 32) =>
        QuantizationMix.TensorType(type, name, [rows, 4096], layers, hasOutputTensor: true, heads, kvHeads);

    [Fact]
    public void Q4_K_M_on_32_layers_gives_16_Q6_K_attn_v_and_ffn_down_like_llama_quantize_on_Llama_7B()
    {
        // use_more_bits(i, 32): i < 4, i ≥ 28, and i = 6, 9, …, 27 (8 of them) → 16 layers, as llama-quantize's
        // Llama-2-7B Q4_K_M has 16 Q6_K attn_v and 16 Q6_K ffn_down tensors.
        var more = Enumerable.Range(0, 32).Where(i => T(GgufOutputType.Q4_K_M, $"blk.{i}.attn_v.weight", 32) == GgmlType.Q6_K).ToArray();
        Assert.Equal([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31], more);
        Assert.Equal(more, Enumerable.Range(0, 32).Where(i => T(GgufOutputType.Q4_K_M, $"blk.{i}.ffn_down.weight", 32) == GgmlType.Q6_K));
        Assert.All(Enumerable.Range(0, 32), i => Assert.Equal(GgmlType.Q4_K, T(GgufOutputType.Q4_K_M, $"blk.{i}.attn_q.weight", 32)));
        // Q4_K_S: attn_v of the first 4 layers and ffn_down of the first 32/8 = 4 layers in Q5_K.
        Assert.Equal([0, 1, 2, 3], Enumerable.Range(0, 32).Where(i => T(GgufOutputType.Q4_K_S, $"blk.{i}.attn_v.weight", 32) == GgmlType.Q5_K));
        Assert.Equal([0, 1, 2, 3], Enumerable.Range(0, 32).Where(i => T(GgufOutputType.Q4_K_S, $"blk.{i}.ffn_down.weight", 32) == GgmlType.Q5_K));
    }

    [Fact]
    public void The_70B_rule_lifts_Q4_K_attn_v_only_for_80_layers_with_grouped_query_attention()
    {
        Assert.Equal(GgmlType.Q5_K, T(GgufOutputType.Q4_K_M, "blk.11.attn_v.weight", 80, heads: 64, kvHeads: 8));
        Assert.Equal(GgmlType.Q6_K, T(GgufOutputType.Q4_K_M, "blk.0.attn_v.weight", 80, heads: 64, kvHeads: 8));
        Assert.Equal(GgmlType.Q4_K, T(GgufOutputType.Q4_K_M, "blk.11.attn_v.weight", 80, heads: 64, kvHeads: 64)); // 65B: no GQA
        Assert.Equal(GgmlType.Q4_K, T(GgufOutputType.Q4_K_M, "blk.12.attn_v.weight", 79, heads: 64, kvHeads: 8));
    }

    [Fact]
    public void Norms_stay_F32_and_rows_llama_quantize_cannot_encode_fall_back_to_F16()
    {
        Assert.Equal(GgmlType.F32, QuantizationMix.TensorType(GgufOutputType.Q4_0, "blk.0.attn_norm.weight", [4096], 32, true));
        // Rows of 172 (stories260K's ffn_down): not a multiple of 32. llama-quantize stops with "no tensor type
        // fallback" for Q4_0…Q5_1 (as for Q8_0, see LlamaCppQuantizerTests); we write F16, like our Q8_0 writer.
        foreach (var t in new[] { GgufOutputType.Q4_0, GgufOutputType.Q5_1, GgufOutputType.Q4_K_M, GgufOutputType.Q6_K })
            Assert.Equal(GgmlType.F16, QuantizationMix.TensorType(t, "blk.0.ffn_down.weight", [172, 64], 1, true));
        Assert.Equal(GgmlType.Q8_0, QuantizationMix.TensorType(GgufOutputType.Q4_K_S, "output.weight", [64, 512], 1, true));
    }
}
