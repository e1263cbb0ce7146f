using static Elongate.Tests.Model.TestWeights;
using Elongate.Tests.Model;
using System.Buffers.Binary;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Common;

namespace Elongate.Tests.Formats;

public class Llama2cCheckpointTests
{
    /// <summary>A small random model in llama2.c's shapes (GQA, optionally untied).</summary>
    internal static LlamaModel RandomModel(int seed, bool tied = true, int dim = 16, int hidden = 24, int layers = 2, int heads = 4, int kvHeads = 2, int vocab = 40, int seqLen = 32)
    {
        var rng = new Random(seed);
        float[] R(long n, float scale = 0.2f) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale; return a; }
        float[] Norm(int n) { var a = R(n, 0.1f); for (int i = 0; i < n; i++) a[i] += 1f; return a; }
        var config = new LlamaConfig
        {
            HiddenSize = dim, IntermediateSize = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
            VocabSize = vocab, MaxPositionEmbeddings = seqLen, TieWordEmbeddings = tied,
        };
        int hd = dim / heads, kv = kvHeads * hd;
        var weights = new LlamaWeights
        {
            TokenEmbedding = W(R((long)vocab * dim, 1f), vocab, dim),
            FinalNorm = W(Norm(dim)),
            Output = tied ? null : W(R((long)vocab * dim), vocab, dim),
            Layers = Enumerable.Range(0, layers).Select(_ => new LayerWeights
            {
                AttnNorm = W(Norm(dim)), Wq = W(R(dim * dim), dim, dim), Wk = W(R(kv * dim), kv, dim), Wv = W(R(kv * dim), kv, dim),
                Wo = W(R(dim * dim), dim, dim), FfnNorm = W(Norm(dim)), WGate = W(R(hidden * dim), hidden, dim),
                WDown = W(R(dim * hidden), dim, hidden), WUp = W(R(hidden * dim), hidden, dim),
            }).ToArray(),
        };
        return new LlamaModel { Config = config, Weights = weights };
    }

    internal static void AssertSameWeights(LlamaWeights a, LlamaWeights b)
    {
        Assert.Equal(a.TokenEmbedding.Values(), b.TokenEmbedding.Values());
        Assert.Equal(a.FinalNorm.Values(), b.FinalNorm.Values());
        Assert.Equal(a.Output is null, b.Output is null);
        if (a.Output is not null) Assert.Equal(a.Output.Values(), b.Output!.Values());
        Assert.Equal(a.Layers.Length, b.Layers.Length);
        for (int l = 0; l < a.Layers.Length; l++)
        {
            var (x, y) = (a.Layers[l], b.Layers[l]);
            foreach (var role in LlamaTensorSchema.LayerRoles) Assert.Equal(x[role].Values(), y[role].Values());
        }
    }

    private static byte[] Bytes(LlamaModel model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"elongate-{Guid.NewGuid():N}.bin");
        try
        {
            Llama2cCheckpoint.Write(model, path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Write_then_read_is_bit_identical(bool tied)
    {
        var model = RandomModel(1, tied);
        var back = Llama2cCheckpoint.Read(Bytes(model));
        Assert.Equal(model.Config, back.Config);
        AssertSameWeights(model.Weights, back.Weights);
    }

    [SkippableFact]
    public void Stories260K_rewritten_has_the_same_size_and_weights()
    {
        // The original file includes run.c's freq_cis tables; we regenerate them in double precision, so compare
        // everything except those tables exactly and the tables to float rounding.
        var path = Fixtures.Path("models/stories260K.bin");
        var original = File.ReadAllBytes(path);
        var model = Llama2cCheckpoint.Read(path);
        Assert.Equal(new[] { 64, 172, 5, 8, 4, 512, 512 }, new[] { model.Config.HiddenSize, model.Config.IntermediateSize, model.Config.NumLayers, model.Config.NumHeads, model.Config.NumKvHeads, model.Config.VocabSize, model.Config.MaxPositionEmbeddings });
        Assert.True(model.Config.TieWordEmbeddings);
        var rewritten = Bytes(model);
        Assert.Equal(original.Length, rewritten.Length);
        var back = Llama2cCheckpoint.Read(rewritten);
        AssertSameWeights(model.Weights, back.Weights);
    }

    [Fact]
    public void Truncated_file_names_the_file_and_offset()
    {
        var bytes = Bytes(RandomModel(2));
        foreach (var cut in new[] { 0, 3, 27, 28, 100, bytes.Length - 1 })
        {
            var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Read(bytes.AsSpan(0, cut), "m.bin"));
            Assert.StartsWith("m.bin", e.Message);
            Assert.NotNull(e.Offset);
        }
    }

    [Theory]
    [InlineData(0, 0)]            // dim = 0
    [InlineData(0, -64)]          // negative dim
    [InlineData(3, 3)]            // 3 heads do not divide dim 16
    [InlineData(4, 3)]            // 3 kv heads do not divide 4 heads
    [InlineData(2, 1 << 30)]      // absurd layer count
    [InlineData(5, 0)]            // vocab 0
    public void Bad_header_field_is_rejected_with_its_name(int field, int value)
    {
        var bytes = Bytes(RandomModel(3));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field * 4), value);
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Read(bytes, "m.bin"));
        Assert.NotNull(e.Key);
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        var bytes = Bytes(RandomModel(4)).Concat(new byte[8]).ToArray();
        var e = Assert.Throws<ModelFormatException>(() => Llama2cCheckpoint.Read(bytes, "m.bin"));
        Assert.Contains("after the last tensor", e.Message);
    }

    [Fact]
    public void Ten_thousand_header_mutations_never_crash()
    {
        var bytes = Bytes(RandomModel(5, tied: false, dim: 8, hidden: 12, layers: 1, heads: 2, kvHeads: 1, vocab: 8, seqLen: 4));
        int rejected = HeaderMutator.Run(bytes, 28, 10_000, seed: 20261126, b => Llama2cCheckpoint.Read(b, "mutant.bin"));
        Assert.True(rejected > 5_000, $"only {rejected} of 10000 header mutations were rejected");
    }
}
