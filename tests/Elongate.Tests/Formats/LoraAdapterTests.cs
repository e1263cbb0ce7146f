using System.Text.Json;
using Elongate.Common;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Formats;

/// <summary>
/// The PEFT adapter we write and read: names, shapes and config keys as Hugging Face PEFT has them, the q/k RoPE
/// permutation (merging in HF space equals our merge, exported), load → apply round trip, and clear errors.
/// </summary>
/// <remarks>
/// How the expected format was checked: against huggingface/peft's sources, read through this project's code search
/// (src/peft/utils/save_and_load.py, tuners/lora/layer.py, tuners/lora/config.py) and against adapter_config.json
/// files published on the Hugging Face Hub by PEFT's save_pretrained. get_peft_model_state_dict keeps the state-dict
/// entries whose key contains "lora_" (bias "none") and removes the adapter name (".default"), so a key is
/// PeftModel.base_model (LoraModel) → .model (LlamaForCausalLM) → .model (LlamaModel) → layers.{i}.self_attn.q_proj →
/// lora_A.weight: "base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight". LoraLayer.update_layer builds
/// lora_A = nn.Linear(in_features, r, bias=False) and lora_B = nn.Linear(r, out_features, bias=False), i.e. weights
/// [r, in] and [out, r], scaling = lora_alpha / r (lora_alpha / √r with use_rslora), and the forward adds
/// lora_B(lora_A(dropout(x))) · scaling. The config keys are LoraConfig's fields plus PeftConfig's (peft_type,
/// task_type, base_model_name_or_path, revision, inference_mode).
/// </remarks>
public sealed class LoraAdapterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-lora").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>Grouped-query attention (4 query heads, 2 key/value heads of 4): q and k permutations both matter.</summary>
    private static LlamaConfig Config() => new()
    {
        HiddenSize = 16, IntermediateSize = 24, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = 30, MaxPositionEmbeddings = 32,
    };

    private static LlamaModel RandomBase(LlamaConfig c, int seed)
    {
        var rng = new Random(seed);
        var w = LlamaWeights.FromFloats(c, spec =>
        {
            var a = new float[spec.ElementCount];
            bool norm = !spec.IsMatrix;
            for (int i = 0; i < a.Length; i++) a[i] = norm ? 1f : (float)((rng.NextDouble() - 0.5) * 0.4);
            return a;
        });
        return new LlamaModel { Config = c, Weights = w, Source = "random base" };
    }

    /// <summary>A training model over <paramref name="baseModel"/> with adapters whose A and B are both random (as after training).</summary>
    private static LlamaTrainingModel<float> Adapted(LlamaModel baseModel, LoraSettings settings)
    {
        var m = LlamaTrainingModel<float>.FromModel(baseModel, 1, 8);
        m.AddLora(settings, seed: 3);
        var rng = new Random(4);
        foreach (var t in m.LoraTensors.Where(t => t.Name.EndsWith(".lora_b", StringComparison.Ordinal)))
            for (int i = 0; i < t.Length; i++) m.LoraParameters[t.Offset + i] = (float)((rng.NextDouble() - 0.5) * 0.3);
        return m;
    }

    [Fact]
    public void Written_adapter_has_PEFT_names_shapes_and_config_keys()
    {
        var c = Config();
        using var baseModel = RandomBase(c, 1);
        var tm = Adapted(baseModel, new LoraSettings(4, 8, LoraTargets.All, 0.05f));
        var dir = Path.Combine(_dir, "adapter");
        tm.ToLoraAdapter("meta-llama/Llama-2-7b-hf").Save(dir);

        using (var st = SafetensorsReader.Open(Path.Combine(dir, "adapter_model.safetensors")))
        {
            var expected = new Dictionary<string, long[]>();
            for (int l = 0; l < c.NumLayers; l++)
            {
                string p = $"base_model.model.model.layers.{l}.";
                foreach (var (module, inDim, outDim) in new[] { ("self_attn.q_proj", 16, 16), ("self_attn.k_proj", 16, 8), ("self_attn.v_proj", 16, 8),
                             ("self_attn.o_proj", 16, 16), ("mlp.gate_proj", 16, 24), ("mlp.up_proj", 16, 24), ("mlp.down_proj", 24, 16) })
                {
                    expected[p + module + ".lora_A.weight"] = [4, inDim];
                    expected[p + module + ".lora_B.weight"] = [outDim, 4];
                }
            }
            Assert.Equal(expected.Keys.Order(), st.Tensors.Select(t => t.Name).Order());
            foreach (var t in st.Tensors)
            {
                Assert.Equal(expected[t.Name], t.Shape);
                Assert.Equal(SafetensorsDtype.F32, t.Dtype);
            }
            Assert.Equal("pt", st.Metadata!["format"]);
        }

        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "adapter_config.json")));
        var root = json.RootElement;
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal(4, root.GetProperty("r").GetInt32());
        Assert.Equal(8, root.GetProperty("lora_alpha").GetInt32());
        Assert.Equal(0.05, root.GetProperty("lora_dropout").GetDouble(), 6);
        Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("none", root.GetProperty("bias").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
        Assert.Equal("meta-llama/Llama-2-7b-hf", root.GetProperty("base_model_name_or_path").GetString());
        Assert.False(root.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.True(root.GetProperty("inference_mode").GetBoolean());
        Assert.False(root.GetProperty("use_rslora").GetBoolean());
        Assert.False(root.GetProperty("use_dora").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("modules_to_save").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("layers_to_transform").ValueKind);
        Assert.Empty(root.GetProperty("rank_pattern").EnumerateObject());
        Assert.Empty(root.GetProperty("alpha_pattern").EnumerateObject());
    }

    /// <summary>
    /// Merging in both spaces: our merged model exported to HF equals (HF export of the base) + PEFT's merge
    /// W + (lora_B @ lora_A)·scaling computed here on the files, for every projection. Without permuting q/k's lora_B
    /// rows the HF-space merge would be wrong, which the test also shows.
    /// </summary>
    [Fact]
    public void Hf_space_merge_of_our_adapter_equals_our_merged_model_exported()
    {
        var c = Config();
        using var baseModel = RandomBase(c, 2);
        var settings = new LoraSettings(3, 6, LoraTargets.All);
        var tm = Adapted(baseModel, settings);
        string hfBase = Path.Combine(_dir, "hf-base"), hfMerged = Path.Combine(_dir, "hf-merged"), adapterDir = Path.Combine(_dir, "adapter");
        HfModelWriter.Write(baseModel, hfBase);
        HfModelWriter.Write(tm.ToModel(), hfMerged);
        tm.ToLoraAdapter().Save(adapterDir);

        using var b = SafetensorsReader.Open(Path.Combine(hfBase, "model.safetensors"));
        using var m = SafetensorsReader.Open(Path.Combine(hfMerged, "model.safetensors"));
        using var a = SafetensorsReader.Open(Path.Combine(adapterDir, "adapter_model.safetensors"));
        double scaling = 6.0 / 3;
        double worst = 0, unpermutedQ = 0;
        for (int l = 0; l < c.NumLayers; l++)
            foreach (var module in new[] { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" })
            {
                string w = $"model.layers.{l}.{module}.weight", p = $"base_model.model.model.layers.{l}.{module}";
                var wb = b.ReadFloat32(w);
                var wm = m.ReadFloat32(w);
                var la = a.ReadFloat32(p + ".lora_A.weight");
                var lb = a.ReadFloat32(p + ".lora_B.weight");
                int outDim = (int)b.GetInfo(w).Shape[0], inDim = (int)b.GetInfo(w).Shape[1], r = 3;
                for (int o = 0; o < outDim; o++)
                    for (int i = 0; i < inDim; i++)
                    {
                        double delta = 0;
                        for (int k = 0; k < r; k++) delta += lb[o * r + k] * la[k * inDim + i];
                        worst = Math.Max(worst, Math.Abs(wb[o * inDim + i] + delta * scaling - wm[o * inDim + i]));
                    }
                if (module == "self_attn.q_proj")
                {
                    // The same merge with B left in Elongate's row order does not give HF's merged weight.
                    var (_, bOurs) = tm.LoraMatrices(l, TensorRole.Wq)!.Value;
                    for (int o = 0; o < outDim; o++)
                        for (int i = 0; i < inDim; i++)
                        {
                            double delta = 0;
                            for (int k = 0; k < r; k++) delta += bOurs.Span[o * r + k] * la[k * inDim + i];
                            unpermutedQ = Math.Max(unpermutedQ, Math.Abs(wb[o * inDim + i] + delta * scaling - wm[o * inDim + i]));
                        }
                }
            }
        Assert.True(worst < 1e-6, $"HF-space merge differs by {worst:E2}");
        Assert.True(unpermutedQ > 1e-2, "the q permutation was not exercised");
    }

    [Fact]
    public void Loaded_adapter_applied_to_the_base_equals_the_training_models_merge()
    {
        var c = Config();
        using var baseModel = RandomBase(c, 5);
        var tm = Adapted(baseModel, new LoraSettings(2, 3, LoraTargets.Q | LoraTargets.K | LoraTargets.Down, UseRsLora: true));
        var dir = Path.Combine(_dir, "a");
        tm.ToLoraAdapter("base").Save(dir);
        var loaded = LoraAdapter.Load(dir);
        Assert.Equal(tm.Lora, loaded.Settings);
        Assert.Equal("base", loaded.BaseModel);
        var applied = loaded.ApplyTo(baseModel);
        var expected = tm.ToModel();
        foreach (var (spec, weight) in expected.Weights.Tensors(expected.Config))
            Assert.Equal(weight.Floats.ToArray(), applied.Weights[spec]!.Floats.ToArray());
        // Projections without an adapter are the base's own tensors, not copies.
        Assert.Same(baseModel.Weights.Layers[0].Wv, applied.Weights.Layers[0].Wv);
        Assert.NotSame(baseModel.Weights.Layers[0].Wq, applied.Weights.Layers[0].Wq);
    }

    [Fact]
    public void Applying_to_a_quantized_base_merges_into_fp32_copies_and_keeps_the_rest_quantized()
    {
        var c = Config() with { HiddenSize = 32, NumHeads = 4, NumKvHeads = 2, IntermediateSize = 64 };
        using var baseModel = RandomBase(c, 6);
        var path = Path.Combine(_dir, "q8.gguf");
        GgufModelWriter.Save(path, baseModel, GgufOutputType.Q8_0);
        using var quantized = ModelLoader.Load(path);
        Assert.Equal(GgmlType.Q8_0, quantized.Weights.Layers[0].Wq.Type);
        var tm = Adapted(quantized, new LoraSettings(2, 4, LoraTargets.Q | LoraTargets.V));
        var dir = Path.Combine(_dir, "a");
        tm.ToLoraAdapter().Save(dir);
        var applied = LoraAdapter.Load(dir).ApplyTo(quantized);
        Assert.Equal(GgmlType.F32, applied.Weights.Layers[1].Wq.Type);
        Assert.Equal(GgmlType.F32, applied.Weights.Layers[1].Wv.Type);
        Assert.Equal(GgmlType.Q8_0, applied.Weights.Layers[1].Wk.Type);
        Assert.Equal(GgmlType.Q8_0, applied.Weights.Layers[1].WGate.Type);
        // The merged projection is the dequantized base plus s·B·A.
        var expected = tm.ToModel();
        Assert.Equal(expected.Weights.Layers[1].Wq.Floats.ToArray(), applied.Weights.Layers[1].Wq.Floats.ToArray());
    }

    private string WriteAdapter(LoraSettings settings, Action<string>? corrupt = null)
    {
        var c = Config();
        using var baseModel = RandomBase(c, 7);
        var dir = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        Adapted(baseModel, settings).ToLoraAdapter().Save(dir);
        corrupt?.Invoke(dir);
        return dir;
    }

    private static void EditConfig(string dir, Func<string, string> edit)
    {
        var p = Path.Combine(dir, "adapter_config.json");
        File.WriteAllText(p, edit(File.ReadAllText(p)));
    }

    private static void RewriteTensors(string dir, Func<List<SafetensorsTensor>, List<SafetensorsTensor>> edit)
    {
        var p = Path.Combine(dir, "adapter_model.safetensors");
        List<SafetensorsTensor> tensors;
        using (var r = SafetensorsReader.Open(p))
            tensors = r.Tensors.Select(t => new SafetensorsTensor(t.Name, t.Shape, r.ReadFloat32(t.Name))).ToList();
        SafetensorsWriter.Write(p, edit(tensors));
    }

    [Fact]
    public void Bad_adapters_are_refused_naming_the_key_or_tensor()
    {
        var qv = new LoraSettings(2, 4, LoraTargets.Q | LoraTargets.V);
        ModelFormatException Refused(string dir) => Assert.Throws<ModelFormatException>(() => LoraAdapter.Load(dir));

        var e = Refused(Path.Combine(_dir, "nowhere"));
        Assert.Contains("no such adapter folder", e.Message);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"LORA\"", "\"PREFIX_TUNING\"", StringComparison.Ordinal))));
        Assert.Equal("peft_type", e.Key);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"r\": 2", "\"r\": 0", StringComparison.Ordinal))));
        Assert.Equal("r", e.Key);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"use_dora\": false", "\"use_dora\": true", StringComparison.Ordinal))));
        Assert.Equal("use_dora", e.Key);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"rank_pattern\": {}", "\"rank_pattern\": {\"q_proj\": 8}", StringComparison.Ordinal))));
        Assert.Equal("rank_pattern", e.Key);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", StringComparison.Ordinal))));
        Assert.Equal("modules_to_save", e.Key);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"v_proj\"", "\"lm_head\"", StringComparison.Ordinal))));
        Assert.Equal("target_modules", e.Key);
        Assert.Contains("lm_head", e.Message);

        e = Refused(WriteAdapter(qv, d => EditConfig(d, s => s.Replace("\"v_proj\"", "\"k_proj\"", StringComparison.Ordinal))));
        Assert.Equal("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", e.Key);
        Assert.Contains("not in target_modules", e.Message);

        e = Refused(WriteAdapter(qv, d => RewriteTensors(d, ts => ts.Where(t => t.Name != "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight").ToList())));
        Assert.Equal("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", e.Key);
        Assert.Contains("no lora_B", e.Message);

        e = Refused(WriteAdapter(qv, d => RewriteTensors(d, ts => ts.Select(t => t.Name.EndsWith("layers.0.self_attn.v_proj.lora_A.weight", StringComparison.Ordinal)
            ? new SafetensorsTensor(t.Name, [t.Shape[1], t.Shape[0]], t.Data) : t).ToList())));
        Assert.Equal("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", e.Key);
        Assert.Contains("[r, in]", e.Message);

        e = Refused(WriteAdapter(qv, d => RewriteTensors(d, ts => [.. ts, new SafetensorsTensor("base_model.model.lm_head.weight", [2, 2], new float[4])])));
        Assert.Equal("base_model.model.lm_head.weight", e.Key);

        e = Refused(WriteAdapter(qv, d => File.Delete(Path.Combine(d, "adapter_model.safetensors"))));
        Assert.Contains("adapter_model.safetensors is missing", e.Message);

        // Fits the file but not the model: a layer the model lacks, a width it does not have.
        var ok = LoraAdapter.Load(WriteAdapter(qv));
        var smaller = Config() with { NumLayers = 1 };
        e = Assert.Throws<ModelFormatException>(() => ok.Validate(smaller));
        Assert.Equal("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", e.Key);
        var wider = Config() with { HiddenSize = 32, NumHeads = 8, NumKvHeads = 4 };
        e = Assert.Throws<ModelFormatException>(() => ok.Validate(wider));
        Assert.Contains("takes 32 inputs", e.Message);
    }
}
