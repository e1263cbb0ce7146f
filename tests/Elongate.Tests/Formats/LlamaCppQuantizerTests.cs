using Elongate.Formats;
using Elongate.Model;
using LLama.Native;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>
/// llama.cpp's own quantizer (llama_model_quantize, as in llama-quantize) as the outside reference for both directions:
/// its output for every file type we write (F16, BF16, Q8_0 and the llama-quantize mixtures Q4_0…Q6_K) must equal our
/// writer's tensor types and bytes, and the Q4_0…Q6_K blocks it produces must dequantize with our kernels to within
/// each format's resolution of the original weights.
/// </summary>
public class LlamaCppQuantizerTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Row lengths are multiples of 256 so every k-quant applies; untied head so output.weight is quantized too.
    private static LlamaModel Model()
    {
        var m = GgufTestModels.Random(dim: 256, hidden: 512, layers: 1, heads: 4, kvHeads: 2, vocab: 300, tied: false, seed: 21, withVocab: false);
        return new LlamaModel { Config = m.Config, Weights = m.Weights, Vocabulary = GgufTestModels.ByteVocabulary(41), Source = "rand" };
    }

    /// <summary>llama_model_quantize called directly: LLamaSharp's managed wrapper refuses MOSTLY_BF16, which llama.cpp supports.</summary>
    private static bool TryQuantize(string src, string dst, LLamaFtype type)
    {
        LlamaCppNative.EnsureLoaded();
        lock (LlamaCppNative.Lock)
        {
            var p = LLamaModelQuantizeParams.Default();
            p.ftype = type;
            p.nthread = 1;
            p.allow_requantize = true;
            p.quantize_output_tensor = true;
            return NativeApi.llama_model_quantize(src, dst, ref p) == 0;
        }
    }

    private static void Quantize(string src, string dst, LLamaFtype type) =>
        Assert.True(TryQuantize(src, dst, type), $"llama.cpp failed to quantize to {type}");

    [Theory]
    [InlineData(GgufOutputType.F16, LLamaFtype.MOSTLY_F16)]
    [InlineData(GgufOutputType.BF16, LLamaFtype.MOSTLY_BF16)]
    [InlineData(GgufOutputType.Q8_0, LLamaFtype.MOSTLY_Q8_0)]
    [InlineData(GgufOutputType.Q4_0, LLamaFtype.MOSTLY_Q4_0)]
    [InlineData(GgufOutputType.Q4_1, LLamaFtype.MOSTLY_Q4_1)]
    [InlineData(GgufOutputType.Q5_0, LLamaFtype.MOSTLY_Q5_0)]
    [InlineData(GgufOutputType.Q5_1, LLamaFtype.MOSTLY_Q5_1)]
    [InlineData(GgufOutputType.Q4_K_S, LLamaFtype.MOSTLY_Q4_K_S)]
    [InlineData(GgufOutputType.Q4_K_M, LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData(GgufOutputType.Q5_K_S, LLamaFtype.MOSTLY_Q5_K_S)]
    [InlineData(GgufOutputType.Q5_K_M, LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData(GgufOutputType.Q6_K, LLamaFtype.MOSTLY_Q6_K)]
    public void OurEncodingIsByteIdenticalToLlamaCppQuantizer(GgufOutputType ours, LLamaFtype theirs)
    {
        var model = Model();
        var dir = Directory.CreateTempSubdirectory("gguf-quant");
        try
        {
            var src = Path.Combine(dir.FullName, "f32.gguf");
            var dst = Path.Combine(dir.FullName, $"{theirs}.gguf");
            GgufModelWriter.Save(src, model, GgufOutputType.F32);
            Quantize(src, dst, theirs);
            using var reference = GgufFile.Open(dst);
            using var mine = GgufFile.FromBytes(GgufModelWriter.Build(model, ours).ToArray());
            Assert.Equal((uint)theirs, reference.GetUInt32("general.file_type"));
            Assert.Equal(GgufModelWriter.FileType(ours), (uint)theirs);
            Assert.Equal(mine.Tensors.Select(t => t.Name).Order(), reference.Tensors.Select(t => t.Name).Order());
            foreach (var r in reference.Tensors)
            {
                var t = mine.GetTensor(r.Name);
                Assert.Equal((r.Name, r.Type, r.ShapeString), (t.Name, t.Type, t.ShapeString));
                Assert.True(r.Type != GgmlType.F32 || r.Dimensions.Length == 1);
                Assert.True(reference.GetTensorData(r).SequenceEqual(mine.GetTensorData(t)), $"{r.Name} ({r.Type}) bytes differ");
            }
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void LlamaCppQuantizedBlocksDequantizeToTheOriginalWeights()
    {
        var model = Model();
        var dir = Directory.CreateTempSubdirectory("gguf-quant");
        try
        {
            var src = Path.Combine(dir.FullName, "f32.gguf");
            GgufModelWriter.Save(src, model, GgufOutputType.F32);
            using var original = GgufFile.Open(src);
            // Relative RMS error allowed per type, for U(-s, s) weights: b-bit steps of range/2^b give ≈ 2^-b·2/√12 / (1/√3)
            // = 2^-b relative (Q4 ≈ 0.06, Q5 ≈ 0.03, Q6 ≈ 0.016, Q8 ≈ 0.004); limits are about twice that. A wrong bit or
            // nibble order gives errors of order 1.
            var limit = new Dictionary<GgmlType, double>
            {
                [GgmlType.Q4_0] = 0.13, [GgmlType.Q4_1] = 0.13, [GgmlType.Q4_K] = 0.13,
                [GgmlType.Q5_0] = 0.07, [GgmlType.Q5_1] = 0.07, [GgmlType.Q5_K] = 0.07,
                [GgmlType.Q6_K] = 0.035, [GgmlType.Q8_0] = 0.01, [GgmlType.F16] = 0.001, [GgmlType.F32] = 0,
            };
            var seen = new HashSet<GgmlType>();
            var worst = new Dictionary<GgmlType, double>();
            foreach (var ftype in new[] { LLamaFtype.MOSTLY_Q4_0, LLamaFtype.MOSTLY_Q4_1, LLamaFtype.MOSTLY_Q5_0, LLamaFtype.MOSTLY_Q5_1,
                         LLamaFtype.MOSTLY_Q4_K_S, LLamaFtype.MOSTLY_Q5_K_S, LLamaFtype.MOSTLY_Q6_K })
            {
                var dst = Path.Combine(dir.FullName, $"{ftype}.gguf");
                Quantize(src, dst, ftype);
                using var q = GgufFile.Open(dst);
                foreach (var t in q.Tensors)
                {
                    var x = original.DequantizeTensor(original.GetTensor(t.Name));
                    var y = q.DequantizeTensor(t);
                    double num = 0, den = 0;
                    for (int i = 0; i < x.Length; i++) { num += Math.Pow(x[i] - y[i], 2); den += (double)x[i] * x[i]; }
                    double rel = Math.Sqrt(num / den);
                    Assert.True(rel <= limit[t.Type], $"{ftype} {t.Name} {t.Type}: relative RMS error {rel:G3} > {limit[t.Type]}");
                    seen.Add(t.Type);
                    worst[t.Type] = Math.Max(worst.GetValueOrDefault(t.Type), rel);
                }
                // And the whole quantized model loads through the Llama loader.
                var loaded = GgufModelLoader.Load(q);
                Assert.Equal(model.Config.HiddenSize, loaded.Config.HiddenSize);
            }
            foreach (var (t, e) in worst.OrderBy(k => k.Key)) output.WriteLine($"{t}: worst relative RMS error {e:G3} (limit {limit[t]})");
            foreach (var t in new[] { GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
                Assert.Contains(t, seen);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void LlamaCppQuantizerRefusesQ8_0ForRowsOf172WhileOurWriterFallsBackToF16()
    {
        // Documents the two llama.cpp behaviours: llama-quantize has no fallback type for Q8_0 and fails, while
        // convert_hf_to_gguf.py (which our writer follows) catches gguf-py's QuantError and writes F16.
        var m = GgufTestModels.Random(dim: 64, hidden: 172, layers: 1, heads: 8, kvHeads: 4, vocab: 300, tied: true, withVocab: false);
        m = new LlamaModel { Config = m.Config, Weights = m.Weights, Vocabulary = GgufTestModels.ByteVocabulary(41), Source = "rand" };
        var dir = Directory.CreateTempSubdirectory("gguf-quant");
        try
        {
            var src = Path.Combine(dir.FullName, "f32.gguf");
            GgufModelWriter.Save(src, m, GgufOutputType.F32);
            Assert.False(TryQuantize(src, Path.Combine(dir.FullName, "q8.gguf"), LLamaFtype.MOSTLY_Q8_0));
            var ours = Path.Combine(dir.FullName, "ours-q8.gguf");
            GgufModelWriter.Save(ours, m, GgufOutputType.Q8_0);
            using var f = GgufFile.Open(ours);
            Assert.Equal(GgmlType.F16, f.GetTensor("blk.0.ffn_down.weight").Type);
            var r = LlamaCppAcceptanceTests.RunLlamaCpp(ours, "once a"); // and llama.cpp runs the mixed file
            Assert.Equal(300, r.VocabCount);
        }
        finally { dir.Delete(true); }
    }

    /// <summary>The tensor types of two files, by name.</summary>
    private static Dictionary<string, GgmlType> Types(GgufFile f) => f.Tensors.ToDictionary(t => t.Name, t => t.Type);

    public static TheoryData<GgufOutputType, LLamaFtype> Mixtures() => new()
    {
        { GgufOutputType.Q4_0, LLamaFtype.MOSTLY_Q4_0 }, { GgufOutputType.Q4_1, LLamaFtype.MOSTLY_Q4_1 },
        { GgufOutputType.Q5_0, LLamaFtype.MOSTLY_Q5_0 }, { GgufOutputType.Q5_1, LLamaFtype.MOSTLY_Q5_1 },
        { GgufOutputType.Q4_K_S, LLamaFtype.MOSTLY_Q4_K_S }, { GgufOutputType.Q4_K_M, LLamaFtype.MOSTLY_Q4_K_M },
        { GgufOutputType.Q5_K_S, LLamaFtype.MOSTLY_Q5_K_S }, { GgufOutputType.Q5_K_M, LLamaFtype.MOSTLY_Q5_K_M },
        { GgufOutputType.Q6_K, LLamaFtype.MOSTLY_Q6_K },
    };

    [Theory]
    [MemberData(nameof(Mixtures))]
    public void MixtureMatchesLlamaQuantizeTensorByTensorAndLlamaCppRunsOurFile(GgufOutputType ours, LLamaFtype theirs)
    {
        // 8 layers so every rule of the mixtures varies with the layer (use_more_bits is true for layers 0, 2, 5, 7;
        // Q4_K_S lifts attn_v of layers 0-3 and ffn_down of layer 0); rows of 256 so no fallback; untied head.
        var r = GgufTestModels.Random(dim: 256, hidden: 256, layers: 8, heads: 2, kvHeads: 1, vocab: 300, tied: false, seed: 5, withVocab: false);
        var model = new LlamaModel { Config = r.Config, Weights = GgufTestModels.WellConditioned(r.Weights, 256), Vocabulary = GgufTestModels.ByteVocabulary(41), Source = "rand" };
        var dir = Directory.CreateTempSubdirectory("gguf-mix");
        try
        {
            var src = Path.Combine(dir.FullName, "f32.gguf");
            var dst = Path.Combine(dir.FullName, "theirs.gguf");
            var mine = Path.Combine(dir.FullName, "ours.gguf");
            GgufModelWriter.Save(src, model, GgufOutputType.F32);
            Quantize(src, dst, theirs);
            GgufModelWriter.Save(mine, model, ours);
            using (var reference = GgufFile.Open(dst))
            using (var f = GgufFile.Open(mine))
            {
                Assert.Equal(Types(reference).OrderBy(kv => kv.Key), Types(f).OrderBy(kv => kv.Key));
                Assert.Equal(GgufModelWriter.FileType(ours), f.GetUInt32("general.file_type"));
                // Every per-type quantizer is byte-identical (GgmlQuantizerTests), so whole tensors are too.
                foreach (var t in reference.Tensors)
                    Assert.True(reference.GetTensorData(t).SequenceEqual(f.GetTensorData(f.GetTensor(t.Name))), $"{t.Name} ({t.Type}) bytes differ");
                var counts = f.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}");
                output.WriteLine($"{ours}: {string.Join(", ", counts)}");
            }

            // llama.cpp runs our file, and its logits agree with our engine's on the same file. Our engine dequantizes
            // the weights to fp32 and keeps activations in fp32; llama.cpp's CPU matmuls quantize the activations to
            // 8 bits per block (Q8_0 for the legacy types, Q8_K for the k-quants) and sum in integers, a relative error
            // of ~2^-8 per activation that grows slowly through 8 layers. Measured here: 0.72–0.75% relative RMS over
            // the logits of all positions for every type (the weights are the same on both sides, so only the activation
            // rounding differs); the bound 3% leaves 4× margin, while a mis-packed block or wrong type gives O(1).
            int[] prompt = [1, 259, 271, 262, 269, 270, 3 + 'c', 266, 260, 265];
            using var oracle = Oracles.LlamaCppOracle.Open(mine, contextSize: 64);
            var theirsLogits = oracle.Logits(prompt);
            var oursLogits = new InferenceSession(GgufModelLoader.Load(mine)).ForwardAll(prompt);
            double num = 0, den = 0;
            for (int p = 0; p < prompt.Length; p++)
                for (int v = 0; v < theirsLogits[p].Length; v++)
                {
                    num += Math.Pow(oursLogits[p][v] - theirsLogits[p][v], 2);
                    den += Math.Pow(theirsLogits[p][v], 2);
                }
            double rel = Math.Sqrt(num / den);
            output.WriteLine($"{ours}: logits relative RMS difference ours vs llama.cpp {rel:G3}");
            Assert.True(rel < 0.03, $"{ours}: relative RMS difference {rel:G3}");
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [MemberData(nameof(Mixtures))]
    public void FallbacksForRowsNotMultiplesOf256AndTiedHeadMatchLlamaQuantize(GgufOutputType ours, LLamaFtype theirs)
    {
        // Rows of 96 (q/k/v/o, gate, up, the tied embedding) and 160 (ffn_down): multiples of 32 but not of 256, so every
        // k-quant falls back (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0) and the tied head's rows do not fit its default
        // type's block (→ Q8_0); the legacy types apply unchanged, with the embedding as head in Q6_K → Q8_0.
        var r = GgufTestModels.Random(dim: 96, hidden: 160, layers: 2, heads: 2, kvHeads: 1, vocab: 300, tied: true, seed: 9, withVocab: false);
        var model = new LlamaModel { Config = r.Config, Weights = r.Weights, Vocabulary = GgufTestModels.ByteVocabulary(41), Source = "rand" };
        var dir = Directory.CreateTempSubdirectory("gguf-mix");
        try
        {
            var src = Path.Combine(dir.FullName, "f32.gguf");
            var dst = Path.Combine(dir.FullName, "theirs.gguf");
            GgufModelWriter.Save(src, model, GgufOutputType.F32);
            Quantize(src, dst, theirs);
            using var reference = GgufFile.Open(dst);
            using var f = GgufFile.FromBytes(GgufModelWriter.Build(model, ours).ToArray());
            Assert.Equal(Types(reference).OrderBy(kv => kv.Key), Types(f).OrderBy(kv => kv.Key));
            foreach (var t in reference.Tensors)
                Assert.True(reference.GetTensorData(t).SequenceEqual(f.GetTensorData(f.GetTensor(t.Name))), $"{t.Name} ({t.Type}) bytes differ");
        }
        finally { dir.Delete(true); }
    }
}
