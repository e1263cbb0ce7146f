using Elongate.Tests.Model;
using System.Text.Json.Nodes;
using Elongate.Formats;
using Elongate.Model;
using static Elongate.Tests.Formats.HfTestSupport;
using Elongate.Common;

namespace Elongate.Tests.Formats;

public class HfModelTests
{
    private static void AssertBitIdentical(LlamaWeights expected, LlamaWeights actual)
    {
        foreach (var ((name, a), (_, b)) in AllTensors(expected).Zip(AllTensors(actual)))
        {
            if (a is null)
            {
                Assert.Null(b);
                continue;
            }
            Assert.NotNull(b);
            Assert.True(a.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b!.Select(BitConverter.SingleToInt32Bits)), $"{name} differs");
        }
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, 4)] // partial rotary: 4 of each head's 8 dims rotate
    public void F32_RoundTrip_IsBitIdentical(bool tied, int? rotaryDim)
    {
        using var dir = new TempDir();
        var model = RandomModel(SmallConfig(tied, rotaryDim, hiddenSize: rotaryDim is null ? 16 : 32), seed: tied ? 1 : 2);
        var written = HfModelWriter.Write(model, dir.Path);
        Assert.Equal(["model.safetensors", "config.json"], written);
        Assert.Equal(["config.json", "model.safetensors"], dir.Entries());

        var loaded = HfModelLoader.Load(dir.Path, out var hf);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal("float32", hf.TorchDtype);
        AssertBitIdentical(model.Weights, loaded.Weights);

        using var st = SafetensorsReader.Open(dir.File("model.safetensors"));
        Assert.Equal("pt", st.Metadata!["format"]);
        Assert.Equal(tied, !st.Contains("lm_head.weight"));
        Assert.Equal(2 + 9 * model.Config.NumLayers + (tied ? 0 : 1), st.Tensors.Count);
        // On disk q/k are in HF's rotate-half order, i.e. actually permuted, and v is not.
        var c = model.Config;
        var qOnDisk = st.ReadFloat32("model.layers.1.self_attn.q_proj.weight");
        Assert.Equal(HfRopePermutation.Permute(model.Weights.Layers[1].Wq.Values(), c.NumHeads, c.HeadDim, c.HiddenSize, c.RotaryDim), qOnDisk);
        Assert.NotEqual(model.Weights.Layers[1].Wq.Values(), qOnDisk);
        Assert.Equal(new long[] { c.KvDim, c.HiddenSize }, st.GetInfo("model.layers.0.self_attn.k_proj.weight").Shape);
        Assert.Equal(model.Weights.Layers[0].Wv.Values(), st.ReadFloat32("model.layers.0.self_attn.v_proj.weight"));
    }

    [Theory]
    [InlineData(SafetensorsDtype.F16)]
    [InlineData(SafetensorsDtype.BF16)]
    public void HalfPrecision_RoundTrip_WithinRoundingTolerance(SafetensorsDtype dtype)
    {
        using var dir = new TempDir();
        var model = RandomModel(SmallConfig(tied: false), seed: 3);
        HfModelWriter.Write(model, dir.Path, dtype);
        var loaded = HfModelLoader.Load(dir.File("config.json"), out var hf);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal(dtype.TorchName(), hf.TorchDtype);
        // Round to nearest: error ≤ half an ulp. F16 keeps 11 significant bits (relative 2^-11) down to 2^-14, below which
        // subnormals are spaced 2^-24 (absolute 2^-25). BF16 keeps 8 bits (relative 2^-8) with fp32's exponent range.
        double rel = dtype == SafetensorsDtype.F16 ? Math.Pow(2, -11) : Math.Pow(2, -8);
        double abs = dtype == SafetensorsDtype.F16 ? Math.Pow(2, -25) : 0;
        double worst = 0;
        foreach (var ((name, a), (_, b)) in AllTensors(model.Weights).Zip(AllTensors(loaded.Weights)))
        {
            Assert.Equal(a is null, b is null);
            if (a is null) continue;
            for (int i = 0; i < a.Length; i++)
            {
                double err = Math.Abs((double)a[i] - b![i]);
                Assert.True(err <= Math.Max(rel * Math.Abs(a[i]), abs), $"{name}[{i}]: {a[i]} read back as {b[i]}");
                if (a[i] != 0) worst = Math.Max(worst, err / Math.Abs(a[i]));
            }
        }
        Assert.True(worst > 0, "half precision should round something");
    }

    [Fact]
    public void Sharded_RoundTrip_IsBitIdentical()
    {
        using var dir = new TempDir();
        var model = RandomModel(SmallConfig(tied: false), seed: 4);
        var written = HfModelWriter.Write(model, dir.Path, maxShardBytes: 4096);
        Assert.Contains("model.safetensors.index.json", written);
        int shards = written.Count(f => f.StartsWith("model-", StringComparison.Ordinal));
        Assert.True(shards >= 3, $"expected several shards, got {shards}");
        Assert.DoesNotContain("model.safetensors", dir.Entries());
        var loaded = HfModelLoader.Load(dir.File("model.safetensors.index.json"));
        Assert.Equal(model.Config, loaded.Config);
        AssertBitIdentical(model.Weights, loaded.Weights);

        // Re-exporting unsharded replaces the shards (so the folder never mixes layouts).
        HfModelWriter.Write(model, dir.Path);
        Assert.Equal(["config.json", "model.safetensors"], dir.Entries());
    }

    [Fact]
    public void RopeScaling_of_the_model_is_exported_and_read_back()
    {
        using var dir = new TempDir();
        var model = RandomModel(SmallConfig(tied: true), seed: 5);
        var scaled = new LlamaModel
        {
            Config = model.Config with { RopeScaling = new Elongate.Rope.RopeScaling { Type = "linear", Factor = 4 } },
            Weights = model.Weights,
        };
        HfModelWriter.Write(scaled, dir.Path);
        var back = HfModelLoader.Load(dir.Path, out var hf);
        Assert.Equal(scaled.Config.RopeScaling, back.Config.RopeScaling);
        Assert.Equal("linear", (string)hf.RopeScaling!["rope_type"]!);
        Assert.Equal(4.0, (double)hf.RopeScaling["factor"]!);
    }

    private static void Rewrite(string configPath, Action<JsonObject> edit)
    {
        var obj = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        edit(obj);
        File.WriteAllText(configPath, obj.ToJsonString());
    }

    [Fact]
    public void ShapeDisagreeingWithConfig_NamesTensorAndBothShapes()
    {
        using var dir = new TempDir();
        HfModelWriter.Write(RandomModel(SmallConfig(tied: false), 6), dir.Path);
        Rewrite(dir.File("config.json"), o => o["intermediate_size"] = 48);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Equal("model.layers.0.mlp.gate_proj.weight", e.Key);
        Assert.Contains("[40, 16]", e.Message);
        Assert.Contains("[48, 16]", e.Message);
        Assert.EndsWith("model.safetensors", e.FilePath);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void KvHeadsDisagreeingWithConfig_NamesKProj()
    {
        using var dir = new TempDir();
        HfModelWriter.Write(RandomModel(SmallConfig(tied: false), 7), dir.Path);
        Rewrite(dir.File("config.json"), o => o["num_key_value_heads"] = 4);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Equal("model.layers.0.self_attn.k_proj.weight", e.Key);
    }

    [Fact]
    public void MissingLmHeadWithUntiedConfig_IsAnError()
    {
        using var dir = new TempDir();
        HfModelWriter.Write(RandomModel(SmallConfig(tied: true), 8), dir.Path);
        Rewrite(dir.File("config.json"), o => o["tie_word_embeddings"] = false);
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Equal("lm_head.weight", e.Key);
    }

    [Fact]
    public void UnexpectedTensor_IsAnError_ButOldInvFreqBuffersAreIgnored()
    {
        using var dir = new TempDir();
        var model = RandomModel(SmallConfig(tied: true), 9);
        HfModelWriter.Write(model, dir.Path);
        using (var st = SafetensorsReader.Open(dir.File("model.safetensors")))
        {
            var tensors = st.Tensors.Select(t => new SafetensorsTensor(t.Name, t.Shape, st.ReadFloat32(t.Name))).ToList();
            tensors.Add(new SafetensorsTensor("model.layers.0.self_attn.rotary_emb.inv_freq", [2], [1f, 0.01f]));
            st.Dispose();
            SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
            AssertBitIdentical(model.Weights, HfModelLoader.Load(dir.Path).Weights);
            tensors.Add(new SafetensorsTensor("model.layers.0.self_attn.q_proj.bias", [16], new float[16]));
            SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        }
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Equal("model.layers.0.self_attn.q_proj.bias", e.Key);
    }

    [Fact]
    public void MissingShard_IsNamed()
    {
        using var dir = new TempDir();
        var written = HfModelWriter.Write(RandomModel(SmallConfig(tied: false), 10), dir.Path, SafetensorsDtype.BF16, maxShardBytes: 2048);
        var victim = written.First(f => f.StartsWith("model-00002", StringComparison.Ordinal));
        File.Delete(dir.File(victim));
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Equal(victim, e.Key);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void MissingFiles_AreFormatErrors()
    {
        using var dir = new TempDir();
        Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path)); // no config.json
        HfModelWriter.Write(RandomModel(SmallConfig(tied: false), 11), dir.Path);
        File.Delete(dir.File("model.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.File("nothing-here")));
    }

    [Fact]
    public void BadConfigInFolder_NamesConfigAndKey()
    {
        using var dir = new TempDir();
        HfModelWriter.Write(RandomModel(SmallConfig(tied: false), 12), dir.Path);
        Rewrite(dir.File("config.json"), o => o.Remove("vocab_size"));
        var e = Assert.Throws<ModelFormatException>(() => HfModelLoader.Load(dir.Path));
        Assert.EndsWith("config.json", e.FilePath);
        Assert.Equal("vocab_size", e.Key);
    }

    [Fact]
    public void WriterFailures_LeaveNoPartialFiles()
    {
        using var dir = new TempDir();
        // An invalid model is rejected before anything is written.
        var model = RandomModel(SmallConfig(tied: false), 13);
        var broken = new LlamaModel
        {
            Config = model.Config,
            Weights = new LlamaWeights
            {
                TokenEmbedding = model.Weights.TokenEmbedding, FinalNorm = model.Weights.FinalNorm, Output = model.Weights.Output,
                Layers = [model.Weights.Layers[0]],
            },
        };
        Assert.Throws<ModelFormatException>(() => HfModelWriter.Write(broken, dir.Path));
        Assert.Empty(dir.Entries());

        // A failure while committing (the weights' destination is a folder) leaves neither temp files nor config.json.
        Directory.CreateDirectory(dir.File("model.safetensors"));
        Assert.ThrowsAny<IOException>(() => HfModelWriter.Write(model, dir.Path));
        Assert.Equal(["model.safetensors"], dir.Entries());

        // The same for a sharded export whose last file (the index) cannot be renamed into place: the shards already
        // moved are removed again.
        Directory.Delete(dir.File("model.safetensors"));
        Directory.CreateDirectory(dir.File("model.safetensors.index.json"));
        Assert.ThrowsAny<IOException>(() => HfModelWriter.Write(model, dir.Path, maxShardBytes: 4096));
        Assert.Equal(["model.safetensors.index.json"], dir.Entries());
    }
}
