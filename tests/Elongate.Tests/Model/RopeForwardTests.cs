using Elongate.Formats;
using Elongate.Model;
using Elongate.Rope;

namespace Elongate.Tests.Model;

/// <summary>
/// Every RoPE type wired through the real forward pass on stories260K (trained at 512 positions), run to 4× that.
/// </summary>
public class RopeForwardTests
{
    private const int L = 512;

    public static TheoryData<string> Types => new()
    {
        "default", "abf", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope", "xpos", "xpos-abf",
    };

    internal static LlamaConfig WithRope(LlamaConfig c, string name, int maxContext = 4 * L)
    {
        int pairs = c.RotaryDim / 2;
        RopeScaling? s = name switch
        {
            "default" or "abf" => null,
            "linear" => new RopeScaling { Type = RopeTypes.Linear, Factor = 4 },
            "ntk" => new RopeScaling { Type = RopeTypes.Ntk, Factor = 4 },
            "dynamic" => new RopeScaling { Type = RopeTypes.Dynamic, Factor = 4, OriginalContext = L },
            "yarn" => new RopeScaling { Type = RopeTypes.Yarn, Factor = 4, OriginalContext = L },
            "llama3" => new RopeScaling { Type = RopeTypes.Llama3, Factor = 4, OriginalContext = L, LowFreqFactor = 1, HighFreqFactor = 4 },
            "longrope" => new RopeScaling
            {
                Type = RopeTypes.LongRope, Factor = 4, OriginalContext = L,
                ShortFactor = Enumerable.Repeat(1.0, pairs).ToArray(),
                LongFactor = Enumerable.Range(0, pairs).Select(i => 1.0 + 3.0 * i / Math.Max(1, pairs - 1)).ToArray(),
            },
            "xpos" or "xpos-abf" => new RopeScaling { Type = RopeTypes.Xpos },
            _ => throw new ArgumentException(name),
        };
        float theta = name is "abf" or "xpos-abf" ? 500_000f : 10_000f;
        return c with { RopeScaling = s, RopeTheta = theta, MaxPositionEmbeddings = maxContext };
    }

    private static LlamaModel Stories(string type)
    {
        var m = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var c = WithRope(m.Config, type);
        c.Validate("test");
        return new LlamaModel { Config = c, Weights = m.Weights, Source = m.Source };
    }

    [SkippableTheory]
    [MemberData(nameof(Types))]
    public void Generating_2048_tokens_stays_finite(string type)
    {
        var model = Stories(type);
        var session = new InferenceSession(model, 4 * L);
        var sampler = new Sampler(new SamplingOptions { Temperature = 1f, Seed = 1 });
        int token = 1;
        for (int pos = 0; pos < 4 * L; pos++)
        {
            var logits = session.Forward(token);
            foreach (var v in logits) Assert.True(float.IsFinite(v), $"{type}: non-finite logit at position {pos}");
            token = sampler.Sample(logits);
        }
        Assert.Equal(4 * L, session.Position);
    }

    [SkippableTheory]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    [InlineData("yarn")]
    [InlineData("xpos")]
    public void Prompt_at_once_equals_token_by_token_past_the_trained_length(string type)
    {
        var model = Stories(type);
        var rng = new Random(3);
        var tokens = Enumerable.Range(0, 700).Select(i => i == 0 ? 1 : 3 + rng.Next(509)).ToArray();
        var batched = new InferenceSession(model, 4 * L, batchSize: 64).ForwardAll(tokens);
        var single = new InferenceSession(model, 4 * L, batchSize: 1);
        for (int t = 0; t < tokens.Length; t++)
        {
            var logits = single.Forward(tokens[t]);
            // The batched prompt goes through the blocked GEMM, single tokens through GEMV: only the summation order
            // differs (float32 ulps, ~1e-7 of the logit range). Rotating with another frequency set — the
            // transformers #25104 failure — changes positions, not rounding, and is far outside this bound.
            double scale = logits.Max(Math.Abs), diff = 0;
            for (int v = 0; v < logits.Length; v++) diff = Math.Max(diff, Math.Abs(batched[t][v] - logits[v]));
            Assert.True(diff <= 1e-5 * scale, $"{type}: logits differ at position {t} by {diff / scale:G3} of their range");
        }
    }

    [SkippableFact]
    public void Dynamic_equals_default_within_the_trained_length_and_differs_past_it()
    {
        var plain = new InferenceSession(Stories("default"), 4 * L, batchSize: 128);
        var dynamic = new InferenceSession(Stories("dynamic"), 4 * L, batchSize: 128);
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, 600).Select(i => i == 0 ? 1 : 3 + rng.Next(509)).ToArray();
        var a = plain.ForwardAll(tokens);
        var b = dynamic.ForwardAll(tokens);
        for (int t = 0; t < L; t++) Assert.Equal(a[t], b[t]);
        Assert.NotEqual(a[599], b[599]);
    }

    [SkippableFact]
    public void Linear_factor_1_and_abf_base_10000_equal_default()
    {
        var m = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var tokens = GoldenGenerationTests.Ids("403 407 261 378 432 383 286 261 376 298 315 421").Prepend(1).ToArray();
        var reference = new InferenceSession(m).ForwardAll(tokens);
        foreach (var s in new[] { new RopeScaling { Type = RopeTypes.Linear, Factor = 1 }, new RopeScaling { Type = RopeTypes.Ntk, Factor = 1 }, new RopeScaling { Type = RopeTypes.Yarn, Factor = 1, OriginalContext = L } })
        {
            var model = new LlamaModel { Config = m.Config with { RopeScaling = s }, Weights = m.Weights };
            var got = new InferenceSession(model).ForwardAll(tokens);
            for (int t = 0; t < tokens.Length; t++)
                for (int v = 0; v < got[t].Length; v++)
                    Assert.Equal(reference[t][v], got[t][v], 1e-5f); // yarn's mscale at s = 1 is exactly 1
        }
    }
}
