using Elongate.Model;
using Elongate.Rope;
using Elongate.Training;
using Elongate.Common;

namespace Elongate.Tests.Training;

/// <summary>
/// Every RoPE type inside the training model: whole-model gradients against central differences in double (the
/// tolerance of <see cref="GradCheck"/>), float logits against <see cref="InferenceSession"/> for the static types (and
/// for the length-dependent ones, against the static set that the training length selects), and RoPE carried by the
/// config through <see cref="LlamaTrainingModel{T}.FromModel"/>, <see cref="LlamaTrainingModel{T}.SetRope(float, RopeScaling)"/>
/// and <see cref="LlamaTrainingModel{T}.ToModel"/>.
/// </summary>
public class TrainingRopeTests
{
    /// <summary>
    /// A RoPE setting by name for rotary dimension <paramref name="rotaryDim"/> and original context
    /// <paramref name="l"/>. Parameters are chosen so every type moves the frequencies visibly at tiny sizes: yarn's
    /// attention factor is 0.1·ln 4 + 1 ≈ 1.139, xPos uses scale base 4 instead of 512.
    /// </summary>
    internal static (float Theta, RopeScaling? Scaling) Setting(string name, int rotaryDim, int l)
    {
        int pairs = rotaryDim / 2;
        RopeScaling? s = name switch
        {
            "default" or "abf" => null,
            "linear" => new RopeScaling { Type = RopeTypes.Linear, Factor = 4 },
            "ntk" => new RopeScaling { Type = RopeTypes.Ntk, Factor = 4 },
            "dynamic" => new RopeScaling { Type = RopeTypes.Dynamic, Factor = 4, OriginalContext = l },
            "yarn" => new RopeScaling { Type = RopeTypes.Yarn, Factor = 4, OriginalContext = l },
            "llama3" => new RopeScaling { Type = RopeTypes.Llama3, Factor = 4, OriginalContext = l, LowFreqFactor = 1, HighFreqFactor = 4 },
            "longrope" => new RopeScaling
            {
                Type = RopeTypes.LongRope, Factor = 4, OriginalContext = l,
                ShortFactor = Enumerable.Range(0, pairs).Select(i => 1.0 + 0.5 * i).ToArray(),
                LongFactor = Enumerable.Range(0, pairs).Select(i => 1.0 + 3.0 * i / Math.Max(1, pairs - 1)).ToArray(),
            },
            "xpos" => new RopeScaling { Type = RopeTypes.Xpos, XposScaleBase = 4 },
            _ => throw new ArgumentException(name),
        };
        return (name == "abf" ? 500_000f : 10_000f, s);
    }

    public static TheoryData<string> AllTypes => new() { "default", "abf", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope", "xpos" };

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Whole_model_gradient_matches_finite_differences_under_every_rope_type(string type)
    {
        // T = 6 past L = 4, so dynamic scales its base and longrope takes its long factors (the training-length rule).
        int batch = 2, seqLen = 6, l = type == "llama3" ? 8 : 4;
        var (theta, scaling) = Setting(type, rotaryDim: 4, l);
        var config = new LlamaConfig
        {
            HiddenSize = 8, IntermediateSize = 12, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = 11,
            MaxPositionEmbeddings = 16, TieWordEmbeddings = false, RopeTheta = theta, RopeScaling = scaling,
        };
        var model = new LlamaTrainingModel<double>(config, batch, seqLen) { AttentionTileSize = 4 };
        Assert.Equal(scaling ?? RopeScaling.None, model.Rope!.Scaling);
        model.InitializeRandom(seed: 31, std: 0.5);
        var rng = new Random(32);
        foreach (var t in model.Tensors.Where(t => !t.IsMatrix))
            for (int i = 0; i < t.Length; i++) model.Parameters[t.Offset + i] = 0.5 + rng.NextDouble();
        var inputs = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(config.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(config.VocabSize)).ToArray();
        double Loss() => model.Forward(inputs, targets);

        // The type really reaches the model: its loss differs from plain RoPE's on the same weights.
        double loss = Loss();
        if (type != "default")
        {
            var plain = new LlamaTrainingModel<double>(config with { RopeTheta = 10_000f, RopeScaling = null }, batch, seqLen);
            model.Parameters.CopyTo(plain.Parameters, 0);
            double plainLoss = plain.Forward(inputs, targets);
            Assert.True(Math.Abs(loss - plainLoss) > 1e-6, $"{type}: loss {loss} equals plain RoPE's {plainLoss}");
        }

        GradCheck.CheckModel(model, Loss, $"{type}");
    }

    private static LlamaConfig Small(string type, int l)
    {
        var (theta, scaling) = Setting(type, rotaryDim: 8, l);
        return new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 48, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = 40,
            MaxPositionEmbeddings = 64, TieWordEmbeddings = false, RopeTheta = theta, RopeScaling = scaling,
        };
    }

    /// <summary>
    /// Static types (and dynamic/longrope with T ≤ L, where the causal rule and the training-length rule pick the same
    /// unscaled set): training logits against a fresh inference session on the exported model (same RoPE from its
    /// config), tolerance of <see cref="TrainingModelTests.AssertMatchesInference"/>: 1e-5 · max |logit| per row.
    /// </summary>
    [Theory]
    [InlineData("default", 16)]
    [InlineData("abf", 16)]
    [InlineData("linear", 16)]
    [InlineData("ntk", 16)]
    [InlineData("yarn", 16)]
    [InlineData("llama3", 16)]
    [InlineData("xpos", 16)]
    [InlineData("dynamic", 32)]
    [InlineData("longrope", 32)]
    public void Float_logits_agree_with_the_inference_session(string type, int l)
    {
        int batch = 2, seqLen = 20;
        var model = Trained(Small(type, l), batch, seqLen, out var inputs);
        TrainingModelTests.AssertMatchesInference(model, inputs);
    }

    /// <summary>
    /// Past L the training model uses the set for length T at every row (the documented choice): dynamic equals NTK
    /// with factor s·T/L − (s − 1), longrope equals longrope whose short factors are its long ones.
    /// </summary>
    [Theory]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    public void Length_dependent_types_use_the_training_length_set_for_every_row(string type)
    {
        int batch = 2, seqLen = 20, l = 16;
        var model = Trained(Small(type, l), batch, seqLen, out var inputs);
        var s = model.Config.RopeScaling!;
        var equivalent = type == "dynamic"
            ? new RopeScaling { Type = RopeTypes.Ntk, Factor = s.Factor * seqLen / l - (s.Factor - 1) }
            : s with { ShortFactor = s.LongFactor };
        Assert.False(equivalent.IsLengthDependent);
        TrainingModelTests.AssertMatchesInference(model, inputs,
            m => new LlamaModel { Config = m.Config with { RopeScaling = equivalent }, Weights = m.Weights, Source = m.Source });
        // …and that is not what the causal inference rule gives for early rows (row 0 is unrotated in both, so row 5).
        var causal = new InferenceSession(model.ToModel(), seqLen).ForwardAll(inputs.AsSpan(0, seqLen));
        int vocab = model.Config.VocabSize;
        Assert.NotEqual(causal[5], model.Logits.Slice(5 * vocab, vocab).ToArray());
    }

    [Fact]
    public void FromModel_takes_the_configs_rope_and_SetRope_changes_what_is_exported()
    {
        var config = Small("default", 16);
        var source = Trained(config, 1, 20, out var inputs).ToModel();
        var yarn = Setting("yarn", 8, 16).Scaling;
        var withYarn = new LlamaModel { Config = source.Config with { RopeScaling = yarn }, Weights = source.Weights, Source = "yarn" };
        var fromYarn = LlamaTrainingModel<float>.FromModel(withYarn, 1, 20);
        Assert.Equal(yarn, fromYarn.Rope!.Scaling);
        fromYarn.Forward(inputs, inputs);
        TrainingModelTests.AssertMatchesInference(fromYarn, inputs);

        // Continual pretraining: same weights, new RoPE (ABF), and the export carries it.
        var extended = LlamaTrainingModel<float>.FromModel(source, 1, 20);
        extended.SetRope(500_000f, null);
        Assert.Equal(500_000f, extended.ToModel().Config.RopeTheta);
        extended.Forward(inputs, inputs);
        TrainingModelTests.AssertMatchesInference(extended, inputs);
        var plain = LlamaTrainingModel<float>.FromModel(source, 1, 20);
        plain.Forward(inputs, inputs);
        Assert.False(plain.Logits.SequenceEqual(extended.Logits));
        // Settings the config rejects are rejected here too, before anything changes.
        var bad = new RopeScaling { Type = RopeTypes.Llama3, Factor = 4, OriginalContext = 64 };
        Assert.Throws<Elongate.Common.ModelFormatException>(() => extended.SetRope(10_000f, bad));
        Assert.Equal(500_000f, extended.Config.RopeTheta);
    }

    private static LlamaTrainingModel<float> Trained(LlamaConfig config, int batch, int seqLen, out int[] inputs)
    {
        var model = new LlamaTrainingModel<float>(config, batch, seqLen) { AttentionTileSize = 7 };
        model.InitializeRandom(seed: 5, std: 0.3);
        var rng = new Random(6);
        inputs = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(config.VocabSize)).ToArray();
        model.Forward(inputs, inputs);
        return model;
    }
}
