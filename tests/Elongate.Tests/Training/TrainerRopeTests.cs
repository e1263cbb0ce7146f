using Elongate.Model;
using Elongate.Rope;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// The RoPE a run trains with is the RoPE its export runs with: the training model's logits under each scaling type
/// equal those of an independent <see cref="InferenceSession"/> on the exported weights and config.
/// </summary>
public class TrainerRopeTests
{
    public static TheoryData<string, double, float> Types => new()
    {
        { RopeTypes.Default, 1, 500_000f },   // ABF
        { RopeTypes.Linear, 4, 10_000f },     // Position Interpolation
        { RopeTypes.Ntk, 4, 10_000f },
        { RopeTypes.Yarn, 4, 10_000f },       // attention factor ≠ 1 folded into cos/sin
        { RopeTypes.Llama3, 4, 500_000f },
        { RopeTypes.Xpos, 1, 10_000f },       // query/key magnitude scales
    };

    /// <summary>
    /// Both sides are fp32 with the same matmul and RoPE tables; only attention's summation order differs, so the
    /// tolerance is the one TrainingModelTests uses: max |Δ| ≤ 1e-5 · max |logit| per position.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Training_logits_match_inference_under_each_rope_type(string type, double factor, float theta)
    {
        const int T = 24;
        var scaling = type == RopeTypes.Default ? null
            : new RopeScaling { Type = type, Factor = factor, OriginalContext = type is RopeTypes.Yarn or RopeTypes.Llama3 ? 6 : null, XposScaleBase = 16 };
        var config = new LlamaConfig
        {
            HiddenSize = 16, IntermediateSize = 24, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = 23, MaxPositionEmbeddings = T,
            RopeTheta = theta, RopeScaling = scaling,
        };
        var model = new LlamaTrainingModel<float>(config, 1, T);
        model.InitializeRandom(3, 0.3);
        TrainingRope.Apply(model);
        var ids = Enumerable.Range(0, T).Select(i => (i * 5 + 1) % config.VocabSize).ToArray();
        model.Forward(ids, ids);
        var expected = new InferenceSession(model.ToModel(), T).ForwardAll(ids);
        for (int t = 0; t < T; t++)
        {
            var actual = model.Logits.Slice(t * config.VocabSize, config.VocabSize);
            double maxRef = expected[t].Max(Math.Abs), maxDiff = 0;
            for (int i = 0; i < config.VocabSize; i++) maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[t][i]));
            Assert.True(maxDiff <= 1e-5 * maxRef, $"{type} position {t}: max |Δ| {maxDiff:E2} vs max |logit| {maxRef:E2}");
        }

        // And the tables really differ from plain RoPE (the test would pass vacuously otherwise).
        var plain = new LlamaTrainingModel<float>(config with { RopeTheta = 10_000f, RopeScaling = null }, 1, T);
        model.Parameters.CopyTo(plain.Parameters, 0);
        plain.Forward(ids, ids);
        Assert.NotEqual(plain.Logits.ToArray(), model.Logits.ToArray());
    }

    [Fact]
    public void Presets_have_their_nominal_size()
    {
        foreach (var (name, nominal) in new[] { ("1m", 1e6), ("5m", 5e6), ("20m", 20e6), ("100m", 100e6) })
        {
            long n = ModelPresets.NonEmbeddingParameters(ModelPresets.Create(name, 32000, 256));
            Assert.InRange(n, 0.8 * nominal, 1.05 * nominal);
        }
        var c = ModelPresets.Create("5m", 512, 128);
        var m = new LlamaTrainingModel<float>(c, 1, 8);
        Assert.Equal(m.Parameters.Length, ModelPresets.NonEmbeddingParameters(c) + 2L * 512 * c.HiddenSize);
        Assert.Throws<ArgumentException>(() => ModelPresets.Dimensions("7b"));
    }
}
