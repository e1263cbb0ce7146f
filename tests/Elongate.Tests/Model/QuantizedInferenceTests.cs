using Elongate.Common;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Formats;

namespace Elongate.Tests.Model;

/// <summary>
/// Quantized GGUFs run on their stored blocks: the weights stay in their file type (nothing is dequantized at load),
/// logits follow the dequantize-then-fp32 model within the error of 8-bit activations, memory mapping changes nothing,
/// and the cache types and memory checks behave as documented.
/// </summary>
public class QuantizedInferenceTests
{
    // Widths (and heads) are multiples of 32 so every tensor quantizes (Q8_0 blocks), GQA 2/1 heads, untied head.
    // Matrices scaled by 1/√(row length) as in trained models, so rounding is not amplified chaotically.
    private static LlamaModel Model()
    {
        var m = GgufTestModels.Random(dim: 64, hidden: 128, layers: 2, heads: 2, kvHeads: 1, vocab: 96, tied: false, seed: 5);
        return new LlamaModel { Config = m.Config, Weights = GgufTestModels.WellConditioned(m.Weights, 64), Vocabulary = m.Vocabulary, Source = m.Source };
    }

    /// <summary>The same model with every weight dequantized to a managed F32 array: the reference path.</summary>
    private static LlamaModel Dequantized(LlamaModel m) => new()
    {
        Config = m.Config, Source = m.Source + " (f32)",
        Weights = LlamaWeights.Build(m.Config with { TieWordEmbeddings = m.Weights.Output is null },
            spec => Weight.FromFloats(spec.Name, spec.Shape, m.Weights[spec]!.Dequantize())),
    };

    private static float[][] Logits(LlamaModel m, int[] tokens, InferenceOptions? options = null) =>
        new InferenceSession(m, 64, batchSize: 8, options: options).ForwardAll(tokens);

    /// <summary>‖a − b‖₂ / ‖b‖₂ over every position's logits.</summary>
    private static double RelativeRms(float[][] a, float[][] b)
    {
        double num = 0, den = 0;
        for (int t = 0; t < a.Length; t++)
            for (int v = 0; v < a[t].Length; v++)
            {
                double d = a[t][v] - b[t][v];
                num += d * d;
                den += (double)b[t][v] * b[t][v];
            }
        return Math.Sqrt(num / den);
    }

    private static readonly int[] Tokens = [1, 7, 33, 12, 90, 4, 4, 61, 17, 28, 3, 55, 80, 9, 2, 44, 70, 31, 19, 8];

    [Theory]
    [InlineData(GgufOutputType.F16)]
    [InlineData(GgufOutputType.BF16)]
    [InlineData(GgufOutputType.Q8_0)]
    public void Quantized_file_stays_quantized_and_matches_its_dequantized_model(GgufOutputType type)
    {
        using var f = GgufFile.FromBytes(GgufModelWriter.Build(Model(), type).ToArray());
        var q = GgufModelLoader.Load(f);
        var expected = GgufModelWriter.TensorType(type, [64, 64]);
        Assert.Equal(expected, q.Weights.Layers[1].Wq.Type);
        Assert.Equal(expected, q.Weights.Output!.Type);
        Assert.Equal(GgmlType.F32, q.Weights.FinalNorm.Type);
        // Stored bytes, not fp32: a Q8_0 model is ~1/3.8 of its F32 size.
        long f32Bytes = q.Weights.Tensors(q.Config).Sum(t => t.Weight.ElementCount * 4);
        Assert.True(q.WeightBytes < f32Bytes * (type == GgufOutputType.Q8_0 ? 0.3 : 0.55), $"{q.WeightBytes} bytes of {f32Bytes}");

        var ours = Logits(q, Tokens);
        var reference = Logits(Dequantized(q), Tokens);
        double rel = RelativeRms(ours, reference);
        // F16/BF16 weights are converted exactly and multiplied in fp32: only summation order differs (9e-8 measured).
        // Integer types quantize the activations to 8 bits per 32-value block (≤ 1/254 of the block's max per value),
        // which propagates through two layers to 5.0e-3 of the logits' RMS (measured); the bound leaves 3×.
        double bound = type == GgufOutputType.Q8_0 ? 1.5e-2 : 1e-6;
        Assert.True(rel <= bound, $"{type}: relative RMS {rel:E2} > {bound:E0}");
    }

    [Fact]
    public void Memory_mapped_and_copied_weights_give_identical_logits()
    {
        using var dir = new TempDir();
        var path = dir.File("q8.gguf");
        GgufModelWriter.Save(path, Model(), GgufOutputType.Q8_0);
        using var mapped = GgufModelLoader.Load(path, new ModelLoadOptions { MemoryMap = true });
        using var copied = GgufModelLoader.Load(path, new ModelLoadOptions { MemoryMap = false });
        Assert.True(mapped.Weights.Layers[0].Wq.IsMapped);
        Assert.False(copied.Weights.Layers[0].Wq.IsMapped);
        Assert.NotNull(mapped.Storage);
        Assert.Null(copied.Storage);
        var a = Logits(mapped, Tokens);
        var b = Logits(copied, Tokens);
        for (int t = 0; t < a.Length; t++) Assert.Equal(a[t], b[t]);
    }

    [Theory]
    [InlineData(KvCacheType.F16, 1e-4)]
    [InlineData(KvCacheType.Q8_0, 2e-3)]
    public void Narrow_cache_types_stay_close_to_the_f32_cache(KvCacheType type, double bound)
    {
        var m = Model();
        var f32 = Logits(m, Tokens);
        var narrow = Logits(m, Tokens, new InferenceOptions { CacheType = type });
        double rel = RelativeRms(narrow, f32);
        // F16 keeps 11 significant bits of each key/value (relative error ≤ 2^-11), Q8_0 ≤ 1/254 of each 32-block's max;
        // measured 1.6e-5 and 4.1e-4 of the logits' RMS, bounds ~5–6× above.
        Assert.True(rel > 0 && rel <= bound, $"{type}: relative RMS {rel:E2}");
        Assert.Equal(type, new InferenceSession(m, 16, options: new InferenceOptions { CacheType = type }).CacheType);
    }

    [Fact]
    public void Cache_memory_is_computed_per_type_and_a_context_that_cannot_fit_is_refused_before_allocating()
    {
        var c = Model().Config;
        long f32 = KvCache.RequiredBytes(KvCacheType.F32, c.NumLayers, 1024, c.KvDim);
        long f16 = KvCache.RequiredBytes(KvCacheType.F16, c.NumLayers, 1024, c.KvDim);
        Assert.Equal(2L * c.NumLayers * 1024 * c.KvDim * 4, f32);
        // F16 rows are half as wide; the kernel expands tiles, so no fp32 copy of a layer is needed.
        Assert.Equal(2L * c.NumLayers * 1024 * c.KvDim * 2, f16);
        Assert.Equal(2L * c.NumLayers * 1024 * (c.KvDim / 32 * 34), KvCache.RequiredBytes(KvCacheType.Q8_0, c.NumLayers, 1024, c.KvDim));

        var e = Assert.Throws<ContextMemoryException>(() => new InferenceSession(Model(), 1 << 30));
        Assert.Contains("1,073,741,824 positions", e.Message);
        Assert.True(e.RequiredBytes > e.AvailableBytes);
    }

    [Fact]
    public void A_matrix_of_a_type_the_kernels_cannot_compute_is_refused_naming_the_tensor()
    {
        // ffn_up as Q8_K blocks (a type ggml uses only for activations): the file parses, the loader refuses it.
        var m = GgufTestModels.Random(dim: 256, hidden: 256, layers: 1, heads: 4, kvHeads: 2, vocab: 16, seed: 3);
        using var original = GgufFile.FromBytes(GgufModelWriter.Build(m, GgufOutputType.F32).ToArray());
        var writer = new GgufWriter();
        foreach (var e in original.Metadata) writer.Add(e.Key, e.Value);
        foreach (var t in original.Tensors)
        {
            if (t.Name == "blk.0.ffn_up.weight")
                writer.AddTensor(t.Name, t.Dimensions, GgmlType.Q8_K, new byte[GgmlTypes.ByteCount(GgmlType.Q8_K, t.ElementCount)]);
            else writer.AddTensor(t.Name, t.Dimensions, t.Type, original.GetTensorData(t).ToArray());
        }
        var image = writer.ToArray();
        using (var bad = GgufFile.FromBytes(image, "bad.gguf"))
        {
            var ex = Assert.Throws<ModelFormatException>(() => GgufModelLoader.Load(bad));
            Assert.Contains("blk.0.ffn_up.weight", ex.Message);
            Assert.Contains("Q8_K", ex.Message);
        }

        // A type this library cannot even read (Q2_K, ggml type 10) is refused by the parser, naming the tensor.
        using (var f = GgufFile.FromBytes(image))
        {
            var info = f.GetTensor("blk.0.ffn_up.weight");
            long typeAt = info.HeaderOffset + 8 + info.Name.Length + 4 + 8L * info.Dimensions.Length;
            Assert.Equal((uint)GgmlType.Q8_K, BitConverter.ToUInt32(image, (int)typeAt));
            BitConverter.TryWriteBytes(image.AsSpan((int)typeAt), 10u);
        }
        var ex2 = Assert.Throws<ModelFormatException>(() => GgufFile.FromBytes(image, "q2k.gguf"));
        Assert.Contains("blk.0.ffn_up.weight", ex2.Message);
        Assert.Contains("Q2_K", ex2.Message);
    }
}
