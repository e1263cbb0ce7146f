using Elongate.Common;
using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Tests.Formats;

/// <summary>
/// The writer overload that makes a file from a config and a per-tensor value source (what the model benchmark uses
/// to write random 7B files without holding them as fp32): the file loads, has the schema's tensors in the types the
/// file type picks, asks for each tensor once, and is byte for byte the file the model overload writes.
/// </summary>
public class GgufStreamedWriterTests
{
    // Rows of 256 so the k-quants apply unchanged; GQA and an untied head so every schema tensor appears.
    private static readonly LlamaConfig Config = new()
    {
        HiddenSize = 256, IntermediateSize = 512, NumLayers = 2, NumHeads = 4, NumKvHeads = 2,
        VocabSize = 3 + 256 + 41, MaxPositionEmbeddings = 512,
    };

    private static float[] Values(TensorSpec spec)
    {
        // Deterministic per tensor, so the model overload can be fed the same values.
        var rng = new Random(spec.Name.Aggregate(17, (h, ch) => h * 31 + ch));
        var v = new float[spec.ElementCount];
        for (int i = 0; i < v.Length; i++) v[i] = spec.IsMatrix ? (float)(rng.NextDouble() * 2 - 1) * 0.1f : 1f;
        return v;
    }

    [Theory]
    [InlineData(GgufOutputType.F16)]
    [InlineData(GgufOutputType.Q8_0)]
    [InlineData(GgufOutputType.Q4_0)]
    [InlineData(GgufOutputType.Q4_K_M)]
    public void A_streamed_file_loads_with_the_schema_tensors_in_the_requested_types(GgufOutputType type)
    {
        var vocab = GgufTestModels.ByteVocabulary(41);
        var asked = new List<string>();
        var path = Path.Combine(Path.GetTempPath(), $"elongate-streamed-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufModelWriter.Save(path, Config, type, vocab, spec => { asked.Add(spec.Name); return Values(spec); }, name: "streamed");
            var specs = LlamaTensorSchema.Enumerate(Config).ToArray();
            Assert.Equal(specs.Select(s => s.Name), asked); // once each, in file order

            using var model = GgufModelLoader.Load(path);
            Assert.Equal(Config.NumLayers, model.Config.NumLayers);
            Assert.Equal(Config.NumKvHeads, model.Config.NumKvHeads);
            Assert.Equal(Config.VocabSize, model.Vocabulary!.Count);
            foreach (var spec in specs)
            {
                var w = model.Weights[spec]!;
                Assert.Equal(spec.Shape, w.Shape);
                var expected = QuantizationMix.IsMixture(type)
                    ? QuantizationMix.TensorType(type, spec.Name, spec.GgmlShape, Config.NumLayers, hasOutputTensor: true, Config.NumHeads, Config.NumKvHeads)
                    : GgufModelWriter.TensorType(type, spec.GgmlShape);
                Assert.Equal(expected, w.Type);
            }
            Assert.Equal(GgmlType.F32, model.Weights.FinalNorm.Type);
            if (type == GgufOutputType.Q4_K_M) Assert.Equal(GgmlType.Q6_K, model.Weights.Output!.Type);

            // One path: the in-memory model overload writes the same bytes from the same values.
            var inMemory = new LlamaModel { Config = Config, Weights = LlamaWeights.FromFloats(Config, Values), Vocabulary = vocab, Source = "streamed" };
            Assert.Equal(GgufModelWriter.Build(inMemory, type).ToArray(), File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
