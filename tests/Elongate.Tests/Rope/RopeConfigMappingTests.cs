using System.Text.Json.Nodes;
using Elongate.Formats;
using Elongate.Rope;
using Elongate.Common;

namespace Elongate.Tests.Rope;

/// <summary>
/// Every type written to GGUF metadata and to a Hugging Face config and read back identical. GGUF numbers are float32
/// (llama.cpp requires f32), so the settings below use float-exact values; HF JSON keeps doubles exactly.
/// </summary>
public class RopeConfigMappingTests
{
    private const int D = 8; // rotary dim for the longrope arrays (4 pairs)

    public static TheoryData<string> AllTypes => new() { "default", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope", "xpos" };

    private static RopeScaling Sample(string type) => type switch
    {
        "default" => RopeScaling.None,
        "linear" => new RopeScaling { Type = type, Factor = 4 },
        "ntk" => new RopeScaling { Type = type, Factor = 2.5 },
        "dynamic" => new RopeScaling { Type = type, Factor = 2, OriginalContext = 4096 },
        "yarn" => new RopeScaling { Type = type, Factor = 4, OriginalContext = 4096, BetaFast = 16, BetaSlow = 2, MScale = 0.5, MScaleAllDim = 0.5, Truncate = false, Finetuned = true },
        "llama3" => new RopeScaling { Type = type, Factor = 8, OriginalContext = 8192, LowFreqFactor = 1, HighFreqFactor = 4 },
        "longrope" => new RopeScaling { Type = type, Factor = 32, OriginalContext = 4096, ShortFactor = [1, 1.5, 2, 4], LongFactor = [1, 4, 16, 32] },
        "xpos" => new RopeScaling { Type = type, XposScaleBase = 256 },
        _ => throw new ArgumentException(type),
    };

    private static RopeSettings GgufRoundTrip(RopeSettings settings, int? contextLength = 131072)
    {
        var meta = settings.ToGgufMetadata("llama").ToDictionary(kv => kv.Key, kv => kv.Value);
        var tensors = settings.Scaling.ToGgufTensors(settings.Base, settings.DimensionCount ?? D);
        return RopeScaling.FromGgufMetadata("llama", k => meta.GetValueOrDefault(k),
            tensors.GetValueOrDefault(RopeScaling.RopeFreqsTensor), tensors.GetValueOrDefault(RopeScaling.RopeFactorsLongTensor),
            tensors.GetValueOrDefault(RopeScaling.RopeFactorsShortTensor), "t.gguf", contextLength);
    }

    [Theory, MemberData(nameof(AllTypes))]
    public void Gguf_RoundTrip(string type)
    {
        var s = new RopeSettings { Base = 500000, DimensionCount = D, Scaling = Sample(type) };
        var back = GgufRoundTrip(s);
        Assert.Equal(s, back);
        Assert.Equal(s.Scaling, back.Scaling);
    }

    [Theory, MemberData(nameof(AllTypes))]
    public void Hf_RoundTrip(string type)
    {
        var s = new RopeSettings { Base = 123456.789, PartialRotaryFactor = 0.5, Scaling = Sample(type) with { } };
        var cfg = new JsonObject { ["max_position_embeddings"] = 131072, ["hidden_size"] = 64 };
        s.ToHfConfig(cfg);
        var reparsed = (JsonObject)JsonNode.Parse(cfg.ToJsonString())!;
        var back = RopeScaling.FromHfConfig(reparsed);
        Assert.Equal(s, back);
        if (type == "default") Assert.Null(reparsed["rope_scaling"]);
        else Assert.Equal(type, (string?)reparsed["rope_scaling"]!["rope_type"]);
    }

    [Fact]
    public void Gguf_ExplicitAttentionFactors_RoundTripWithinFloat()
    {
        foreach (var s in new[]
        {
            new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 4096, AttentionFactor = 1.25 },
            new RopeScaling { Type = "linear", Factor = 2, AttentionFactor = 0.75 },
            new RopeScaling { Type = "longrope", Factor = 32, OriginalContext = 4096, ShortFactor = [1, 1, 1, 1], LongFactor = [1, 2, 3, 4], AttentionFactor = 1.5 },
        })
        {
            var back = GgufRoundTrip(new RopeSettings { Base = 10000, DimensionCount = D, Scaling = s }).Scaling;
            // yarn's attn_factor is stored as llama.cpp's multiplier (A / (0.1·ln s + 1)) in f32: 1e-7 relative.
            Assert.Equal(s.AttentionFactor!.Value, back.AttentionFactor!.Value, 6);
            Assert.Equal(s with { AttentionFactor = null }, back with { AttentionFactor = null });
        }
    }

    [Fact]
    public void Gguf_LlamaCppKeysAndTensor()
    {
        var meta = new RopeSettings { Base = 500000, DimensionCount = 128, Scaling = Sample("llama3") }.ToGgufMetadata("llama").ToDictionary(k => k.Key, k => k.Value);
        Assert.Equal("none", meta["llama.rope.scaling.type"]); // llama.cpp aborts on unknown types
        Assert.Equal("llama3", meta["llama.rope.scaling.elongate.type"]);
        Assert.Equal(500000f, meta["llama.rope.freq_base"]);
        Assert.Equal(128u, meta["llama.rope.dimension_count"]);
        Assert.Equal(8192u, meta["llama.rope.scaling.original_context_length"]);
        Assert.False(meta.ContainsKey("llama.rope.scaling.factor")); // llama.cpp would apply it as linear scaling
        // The rope_freqs tensor makes plain RoPE in ggml equal llama3: θ_i / ff_i.
        var ff = Sample("llama3").ToGgufTensors(500000, 128)[RopeScaling.RopeFreqsTensor];
        var l3 = RopeTypes.Compute(500000, 128, Sample("llama3")).InverseFrequencies;
        var plain = RopeTypes.DefaultInverseFrequencies(500000, 128);
        for (int i = 0; i < 64; i++) Assert.Equal(l3[i], plain[i] / ff[i], 1e-6 * l3[i] + 1e-300);
        Assert.Equal(1f, ff[0]);
        Assert.Equal(8f, ff[63]);
    }

    [Fact]
    public void Gguf_ReadsLlamaCppYarnAsWritten()
    {
        // A llama.cpp-style yarn GGUF: type string, f32 factor, u32 original context, no betas (defaults 32/1).
        var meta = new Dictionary<string, object>
        {
            ["qwen2.rope.freq_base"] = 1000000f,
            ["qwen2.rope.scaling.type"] = "yarn",
            ["qwen2.rope.scaling.factor"] = 4f,
            ["qwen2.rope.scaling.original_context_length"] = 32768u,
        };
        var s = RopeScaling.FromGgufMetadata("qwen2", k => meta.GetValueOrDefault(k));
        Assert.Equal(1000000.0, s.Base);
        Assert.Equal(new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 32768 }, s.Scaling);
        // Legacy: no type key, scale_linear → linear.
        var legacy = RopeScaling.FromGgufMetadata("llama", k => k == "llama.rope.scale_linear" ? 2f : null);
        Assert.Equal(new RopeScaling { Type = "linear", Factor = 2 }, legacy.Scaling);
        // A bare rope_freqs tensor with no Elongate type becomes per-pair divisors on plain RoPE.
        var bare = RopeScaling.FromGgufMetadata("llama", _ => null, [1f, 2f, 4f, 8f]);
        Assert.Equal([1.0, 2.0, 4.0, 8.0], bare.Scaling.FrequencyFactors!);
    }

    [Fact]
    public void Gguf_Errors()
    {
        Assert.Contains("unknown RoPE scaling type 'warp'",
            Assert.Throws<ModelFormatException>(() => RopeScaling.FromGgufMetadata("llama", k => k == "llama.rope.scaling.type" ? "warp" : null, source: "m.gguf")).Message);
        Assert.Contains("expected a number",
            Assert.Throws<ModelFormatException>(() => RopeScaling.FromGgufMetadata("llama", k => k == "llama.rope.freq_base" ? "ten" : null)).Message);
        var meta = new Dictionary<string, object> { ["llama.rope.scaling.type"] = "linear", ["llama.rope.scaling.factor"] = 0.25f };
        Assert.Contains("factor must be", Assert.Throws<ModelFormatException>(() => RopeScaling.FromGgufMetadata("llama", k => meta.GetValueOrDefault(k))).Message);
        var contra = new Dictionary<string, object> { ["llama.rope.scaling.type"] = "yarn", ["llama.rope.scaling.elongate.type"] = "llama3" };
        Assert.Contains("contradictory", Assert.Throws<ModelFormatException>(() => RopeScaling.FromGgufMetadata("llama", k => contra.GetValueOrDefault(k))).Message);
        // llama3 whose original context is not below the model's context.
        var ctx = new Dictionary<string, object> { ["llama.context_length"] = 8192u, ["llama.rope.scaling.elongate.type"] = "llama3", ["llama.rope.scaling.elongate.factor"] = 8f, ["llama.rope.scaling.original_context_length"] = 8192u };
        Assert.Contains("below the current maximum", Assert.Throws<ModelFormatException>(() => RopeScaling.FromGgufMetadata("llama", k => ctx.GetValueOrDefault(k))).Message);
        var l3 = new RopeSettings { Base = 500000, DimensionCount = 128, Scaling = Sample("llama3") };
        Assert.Contains("below the current maximum", Assert.Throws<ModelFormatException>(() => GgufRoundTrip(l3 with { DimensionCount = D }, contextLength: 8192)).Message);
    }

    [Fact]
    public void Hf_ReadsRealConfigs()
    {
        // Llama 3.1 config.json (rope_type), Code Llama style legacy "type", Phi-style partial rotary.
        var l31 = (JsonObject)JsonNode.Parse("""
            {"max_position_embeddings":131072,"rope_theta":500000.0,
             "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}}
            """)!;
        var s = RopeScaling.FromHfConfig(l31);
        Assert.Equal(500000.0, s.Base);
        Assert.Equal(new RopeScaling { Type = "llama3", Factor = 8, OriginalContext = 8192 }, s.Scaling);
        var legacy = (JsonObject)JsonNode.Parse("""{"max_position_embeddings":4096,"rope_scaling":{"type":"dynamic","factor":2.0},"partial_rotary_factor":0.4}""")!;
        var d = RopeScaling.FromHfConfig(legacy);
        Assert.Equal(new RopeScaling { Type = "dynamic", Factor = 2, OriginalContext = 4096 }, d.Scaling); // L = max_position_embeddings, as HF
        Assert.Equal(0.4, d.PartialRotaryFactor);
        Assert.Equal(32, d.RotaryDim(80));
        var none = RopeScaling.FromHfConfig((JsonObject)JsonNode.Parse("""{"rope_theta":10000.0,"rope_scaling":null}""")!);
        Assert.Equal(RopeScaling.None, none.Scaling);
    }

    [Fact]
    public void Hf_Errors()
    {
        JsonObject P(string json) => (JsonObject)JsonNode.Parse(json)!;
        Assert.Contains("factor must be", Assert.Throws<ModelFormatException>(() => RopeScaling.FromHfConfig(P("""{"rope_scaling":{"rope_type":"linear","factor":0.5}}"""))).Message);
        Assert.Contains("unknown RoPE scaling type 'magic'", Assert.Throws<ModelFormatException>(() => RopeScaling.FromHfConfig(P("""{"rope_scaling":{"rope_type":"magic","factor":2}}"""))).Message);
        Assert.Contains("below the current maximum", Assert.Throws<ModelFormatException>(() => RopeScaling.FromHfConfig(P(
            """{"max_position_embeddings":8192,"rope_scaling":{"rope_type":"llama3","factor":8,"original_max_position_embeddings":8192}}"""))).Message);
        Assert.Contains("contradicts", Assert.Throws<ModelFormatException>(() => RopeScaling.FromHfConfig(P("""{"rope_scaling":{"rope_type":"yarn","type":"linear","factor":2}}"""))).Message);
        Assert.Contains("config.json", Assert.Throws<ModelFormatException>(() => RopeScaling.FromHfConfig(P("""{"rope_theta":"big"}"""))).Message);
    }

    [Fact]
    public void Settings_CreateEmbedding_UsesPartialRotary()
    {
        var e = new RopeSettings { Base = 10000, PartialRotaryFactor = 0.5, Scaling = Sample("linear") }.CreateEmbedding(64);
        Assert.Equal(32, e.RotaryDim);
        Assert.Equal(64, e.HeadDim);
        Assert.Equal(Sample("linear"), e.Scaling);
        var head = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        e.ApplyHalves(head, 5);
        Assert.Equal(Enumerable.Range(32, 32).Select(i => (float)i), head[32..]); // unrotated tail
    }
}
