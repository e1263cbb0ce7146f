using System.Text;
using System.Text.Json.Nodes;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests.Formats;

public class HfConfigTests
{
    // A config.json as transformers writes it for a Llama-2-architecture model (TinyLlama-1.1B's values).
    private const string TinyLlama = """
        {
          "architectures": ["LlamaForCausalLM"],
          "attention_bias": false,
          "bos_token_id": 1,
          "eos_token_id": 2,
          "hidden_act": "silu",
          "hidden_size": 2048,
          "initializer_range": 0.02,
          "intermediate_size": 5632,
          "max_position_embeddings": 2048,
          "model_type": "llama",
          "num_attention_heads": 32,
          "num_hidden_layers": 22,
          "num_key_value_heads": 4,
          "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_scaling": null,
          "rope_theta": 10000.0,
          "tie_word_embeddings": false,
          "torch_dtype": "bfloat16",
          "transformers_version": "4.35.0",
          "use_cache": true,
          "vocab_size": 32000
        }
        """;

    // Llama 3.1 style: list-valued eos, rope_scaling object, large rope_theta.
    private const string Llama31 = """
        {
          "architectures": ["LlamaForCausalLM"],
          "bos_token_id": 128000,
          "eos_token_id": [128001, 128008, 128009],
          "hidden_size": 64,
          "intermediate_size": 128,
          "max_position_embeddings": 131072,
          "model_type": "llama",
          "num_attention_heads": 4,
          "num_hidden_layers": 2,
          "num_key_value_heads": 2,
          "rms_norm_eps": 1e-05,
          "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                           "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "rope_theta": 500000.0,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "vocab_size": 128256
        }
        """;

    private static HfConfig Parse(string json) => HfConfig.Parse(Encoding.UTF8.GetBytes(json), "config.json");

    [Fact]
    public void ParsesLlama2StyleConfig()
    {
        var hf = Parse(TinyLlama);
        var c = hf.Model;
        Assert.Equal(2048, c.HiddenSize);
        Assert.Equal(5632, c.IntermediateSize);
        Assert.Equal(22, c.NumLayers);
        Assert.Equal(32, c.NumHeads);
        Assert.Equal(4, c.NumKvHeads);
        Assert.Equal(32000, c.VocabSize);
        Assert.Equal(2048, c.MaxPositionEmbeddings);
        Assert.Equal(1e-5f, c.RmsNormEps);
        Assert.Equal(10000f, c.RopeTheta);
        Assert.Null(c.RopeDimensionCount);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal(2, c.EosTokenId);
        Assert.Equal("bfloat16", hf.TorchDtype);
        Assert.Null(hf.RopeScaling);
        Assert.Equal(["initializer_range", "pretraining_tp", "transformers_version", "use_cache"], hf.Extra!.Select(kv => kv.Key).Order());
    }

    [Fact]
    public void Llama31_RopeScalingAndEosListSurviveARoundTrip()
    {
        var hf = Parse(Llama31);
        Assert.Equal(500000f, hf.Model.RopeTheta);
        Assert.Equal(128001, hf.Model.EosTokenId);
        Assert.Equal([128001, 128008, 128009], hf.EosTokenIds!);
        Assert.True(hf.Model.TieWordEmbeddings);
        Assert.Equal("llama3", (string)hf.RopeScaling!["rope_type"]!);
        Assert.Equal(8192, (int)hf.RopeScaling["original_max_position_embeddings"]!);

        Assert.Equal(new Elongate.Rope.RopeScaling { Type = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalContext = 8192 }, hf.Model.RopeScaling);

        var again = HfConfig.Parse(hf.ToJsonBytes(), "rewritten.json");
        Assert.Equal(hf.Model, again.Model); // includes the interpreted RoPE scaling
        foreach (var key in new[] { "rope_type", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings" })
            Assert.True(JsonNode.DeepEquals(hf.RopeScaling[key], again.RopeScaling![key]), key);
        Assert.Equal(hf.EosTokenIds, again.EosTokenIds);
        Assert.Equal(hf.TorchDtype, again.TorchDtype);
    }

    [Fact]
    public void WritesTransformersShapedJson_AndKeepsUnknownKeys()
    {
        var hf = Parse(TinyLlama);
        var text = Encoding.UTF8.GetString(hf.ToJsonBytes());
        Assert.EndsWith("}\n", text);
        var obj = JsonNode.Parse(text)!.AsObject();
        var keys = obj.Select(kv => kv.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys); // sorted like json.dumps(sort_keys=True)
        Assert.Equal("llama", (string)obj["model_type"]!);
        Assert.Equal("LlamaForCausalLM", (string)obj["architectures"]![0]!);
        Assert.Equal(1e-5, (double)obj["rms_norm_eps"]!); // the float's shortest form, not 9.99999974737875E-06
        Assert.Equal(1, (int)obj["pretraining_tp"]!);
        Assert.Equal("4.35.0", (string)obj["transformers_version"]!);
        Assert.Null(obj["rope_scaling"]);
        Assert.True(obj.ContainsKey("rope_scaling"));
        Assert.Equal(64, (int)obj["head_dim"]!);
        Assert.Equal(hf.Model, HfConfig.Parse(Encoding.UTF8.GetBytes(text), "x").Model);
    }

    [Fact]
    public void Defaults_KvHeadsRopeThetaTie()
    {
        var json = JsonNode.Parse(TinyLlama)!.AsObject();
        json.Remove("num_key_value_heads");
        json.Remove("rope_theta");
        json.Remove("tie_word_embeddings");
        var c = Parse(json.ToJsonString()).Model;
        Assert.Equal(32, c.NumKvHeads);
        Assert.Equal(10000f, c.RopeTheta);
        Assert.False(c.TieWordEmbeddings);
    }

    [Fact]
    public void PartialRotaryFactor_BecomesRopeDimensionCount_AndRoundTrips()
    {
        var json = JsonNode.Parse(TinyLlama)!.AsObject();
        json["partial_rotary_factor"] = 0.25;
        var hf = Parse(json.ToJsonString());
        Assert.Equal(16, hf.Model.RopeDimensionCount); // head_dim 64 · 0.25
        Assert.Equal(hf.Model, HfConfig.Parse(hf.ToJsonBytes(), "x").Model);
    }

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("num_attention_heads")]
    [InlineData("vocab_size")]
    [InlineData("max_position_embeddings")]
    [InlineData("rms_norm_eps")]
    [InlineData("model_type")]
    public void MissingRequiredKey_IsNamed(string key)
    {
        var json = JsonNode.Parse(TinyLlama)!.AsObject();
        json.Remove(key);
        var e = Assert.Throws<ModelFormatException>(() => Parse(json.ToJsonString()));
        Assert.Equal(key, e.Key);
        Assert.Equal("config.json", e.FilePath);
        Assert.Contains("missing", e.Message);
    }

    [Theory]
    [InlineData("hidden_size", "\"2048\"", "integer")]
    [InlineData("num_attention_heads", "32.5", "integer")]
    [InlineData("num_hidden_layers", "1e400", "integer")]
    [InlineData("vocab_size", "4294967296", "integer")]
    [InlineData("num_key_value_heads", "[4]", "integer")]
    [InlineData("rms_norm_eps", "\"1e-5\"", "number")]
    [InlineData("rope_theta", "1e39", "number")]
    [InlineData("tie_word_embeddings", "\"yes\"", "true or false")]
    [InlineData("rope_scaling", "3", "object")]
    [InlineData("eos_token_id", "\"2\"", "integer")]
    [InlineData("eos_token_id", "[]", "integer")]
    [InlineData("architectures", "\"LlamaForCausalLM\"", "array")]
    [InlineData("torch_dtype", "16", "string")]
    [InlineData("model_type", "\"mistral\"", "only \"llama\"")]
    [InlineData("hidden_act", "\"gelu\"", "silu")]
    [InlineData("attention_bias", "true", "not supported")]
    [InlineData("head_dim", "128", "not supported")]
    [InlineData("partial_rotary_factor", "1.5", "(0, 1]")]
    [InlineData("partial_rotary_factor", "0.015625", "even, positive")] // 64 · 1/64 = 1 rotary dimension
    [InlineData("num_key_value_heads", "5", "do not divide")]
    [InlineData("hidden_size", "0", "positive")]
    public void WrongTypeOrValue_IsNamed(string key, string valueJson, string problem)
    {
        var json = JsonNode.Parse(TinyLlama)!.AsObject();
        json[key] = JsonNode.Parse(valueJson);
        var e = Assert.Throws<ModelFormatException>(() => Parse(json.ToJsonString()));
        Assert.Equal(key, e.Key);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 1, \"hidden_size\": 2}", "hidden_size")]
    [InlineData("{\"rope_scaling\": {\"factor\": 1, \"factor\": 2}}", "rope_scaling.factor")]
    public void DuplicateKeys_AreNamed(string json, string key)
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse(json));
        Assert.Equal(key, e.Key);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 64,\n  \"vocab_size\": }", 36)] // the '}' where a value should be
    [InlineData("[1, 2]", 0)]
    [InlineData("", 0)]
    public void InvalidJson_GivesOffset(string json, long offset)
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse(json));
        Assert.Equal(offset, e.Offset);
    }

    [Fact]
    public void InvalidStrings_AreFormatErrors()
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse("{\"model_type\": \"\\ud800\"}"));
        Assert.Contains("invalid string", e.Message);
        var bad = Encoding.UTF8.GetBytes("{\"model_type\": \"llama\"}");
        bad[16] = 0xFF;
        var u = Assert.Throws<ModelFormatException>(() => HfConfig.Parse(bad, "config.json"));
        Assert.Equal(16, u.Offset);
        Assert.Contains("UTF-8", u.Message);
    }

    [Fact]
    public void Mutations_OfConfigBytes_OnlyEverThrowModelFormatException()
    {
        var valid = Encoding.UTF8.GetBytes(Llama31);
        Parse(Llama31);
        const int count = 10_000;
        int rejected = HeaderMutator.Run(valid, valid.Length, count, seed: 4242, bytes =>
        {
            var hf = HfConfig.Parse(bytes, "mutant-config.json");
            HfConfig.Parse(hf.ToJsonBytes(), "mutant-rewritten.json"); // whatever we accept, we must be able to write and re-read
        });
        Assert.InRange(rejected, count / 2, count - 1);
    }
}
