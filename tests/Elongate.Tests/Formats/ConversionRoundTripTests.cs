using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Model;
using Elongate.Tokenization;

namespace Elongate.Tests.Formats;

/// <summary>stories260K through every writer and back: the logits must not change (F32) or change within the type's precision.</summary>
public sealed class ConversionRoundTripTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-convert");

    public void Dispose() => _dir.Delete(true);

    private static float[][] Logits(LlamaModel m, int[] tokens) => new InferenceSession(m).ForwardAll(tokens);

    private static (LlamaModel Model, TokenVocabulary Vocab, int[] Tokens) Stories()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var vocab = TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512).Vocabulary;
        var tokens = GoldenGenerationTests.GreedyLikeRunC(model, 60).Prepend(1).ToArray();
        return (model, vocab, tokens);
    }

    [SkippableTheory]
    [InlineData("stories.gguf")]
    [InlineData("hf-folder")]
    [InlineData("again.bin")]
    public void F32_outputs_give_bit_identical_logits(string name)
    {
        var (model, vocab, tokens) = Stories();
        var path = Path.Combine(_dir.FullName, name);
        ModelLoader.Save(model, path, "f32", vocab);
        var back = ModelLoader.Load(path);
        Assert.Equal(model.Config, back.Config);
        Llama2cCheckpointTests.AssertSameWeights(model.Weights, back.Weights);
        var expected = Logits(model, tokens);
        var actual = Logits(back, tokens);
        for (int t = 0; t < tokens.Length; t++) Assert.Equal(expected[t], actual[t]);
    }

    [SkippableFact]
    public void Gguf_to_safetensors_to_gguf_keeps_vocabulary_and_weights()
    {
        var (model, vocab, tokens) = Stories();
        var gguf = Path.Combine(_dir.FullName, "a.gguf");
        var hf = Path.Combine(_dir.FullName, "hf");
        var gguf2 = Path.Combine(_dir.FullName, "b.gguf");
        ModelLoader.Save(model, gguf, "f32", vocab);
        ModelLoader.Save(ModelLoader.Load(gguf), hf, "f32");
        ModelLoader.Save(ModelLoader.Load(hf), gguf2, "f32", vocab);
        var back = ModelLoader.Load(gguf2);
        Llama2cCheckpointTests.AssertSameWeights(model.Weights, back.Weights);
        Assert.Equal(vocab.Pieces, back.Vocabulary!.Pieces);
        Assert.Equal(vocab.Scores, back.Vocabulary.Scores);
        Assert.Equal(vocab.Types, back.Vocabulary.Types);
    }

    [SkippableTheory]
    [InlineData("f16", ".gguf", 2e-3)]
    [InlineData("bf16", ".gguf", 2e-2)]
    [InlineData("q8_0", ".gguf", 5e-2)]
    [InlineData("f16", "", 2e-3)]
    [InlineData("bf16", "", 2e-2)]
    public void Lower_precision_outputs_stay_close(string type, string extension, double tolerance)
    {
        // Weight rounding of 2^-11 (f16), 2^-8 (bf16) or ~1/254 of a block's range (q8_0) moves logits of this
        // 5-layer model by a few times that, relative to the largest logit of a row; the bounds leave ~4× margin.
        // q8_0 files also run with 8-bit activations (llama.cpp's scheme for integer weights): 0.024 measured, 2× margin.
        var (model, vocab, tokens) = Stories();
        var path = Path.Combine(_dir.FullName, $"m-{type}{extension}");
        ModelLoader.Save(model, path, type, vocab);
        var expected = Logits(model, tokens);
        var actual = Logits(ModelLoader.Load(path), tokens);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            double scale = expected[t].Max(Math.Abs);
            for (int v = 0; v < expected[t].Length; v++) worst = Math.Max(worst, Math.Abs(expected[t][v] - actual[t][v]) / scale);
        }
        Assert.True(worst < tolerance, $"{type}{extension}: relative logit difference {worst}");
        Assert.True(worst > 0, "a lower-precision file cannot be bit-identical to f32");
    }

    [SkippableTheory]
    [MemberData(nameof(RopeForwardTests.Types), MemberType = typeof(RopeForwardTests))]
    public void Every_rope_type_survives_gguf_and_safetensors(string type)
    {
        var (model, vocab, tokens) = Stories();
        var config = RopeForwardTests.WithRope(model.Config, type);
        var scaled = new LlamaModel { Config = config, Weights = model.Weights, Vocabulary = vocab };
        foreach (var name in new[] { $"{type}.gguf", $"{type}-hf" })
        {
            var path = Path.Combine(_dir.FullName, name);
            ModelLoader.Save(scaled, path, "f32", vocab);
            var back = ModelLoader.Load(path);
            Assert.Equal(config.RopeTheta, back.Config.RopeTheta);
            Assert.Equal(config.RopeScaling, back.Config.RopeScaling);
            Assert.Equal(config, back.Config);
            var a = new InferenceSession(scaled, 1024).ForwardAll(tokens.Concat(tokens).Concat(tokens).ToArray());
            var b = new InferenceSession(back, 1024).ForwardAll(tokens.Concat(tokens).Concat(tokens).ToArray());
            Assert.Equal(a[^1], b[^1]);
        }
    }

    [Fact]
    public void Unknown_output_type_is_a_clear_error()
    {
        var model = Llama2cCheckpointTests.RandomModel(1);
        var e = Assert.Throws<ArgumentException>(() => ModelLoader.Save(model, Path.Combine(_dir.FullName, "x.gguf"), "q3_k_m"));
        Assert.Contains("q8_0", e.Message);
        Assert.Throws<ArgumentException>(() => ModelLoader.Save(model, Path.Combine(_dir.FullName, "x.bin"), "f16"));
        Assert.Empty(_dir.GetFiles());
    }
}
