using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Elongate.Common;
using Elongate.Model;

namespace Elongate.Formats;

/// <summary>
/// A LoRA adapter in Hugging Face PEFT's on-disk form: a folder with <c>adapter_model.safetensors</c> (tensors
/// <c>base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight</c> [r, in] and <c>….lora_B.weight</c> [out, r],
/// likewise k/v/o_proj and mlp.gate/up/down_proj) and <c>adapter_config.json</c> (peft_type "LORA", r, lora_alpha,
/// target_modules, …), as <c>PeftModel.save_pretrained</c> writes it and <c>PeftModel.from_pretrained</c> reads it.
/// </summary>
/// <remarks>
/// <para><b>RoPE layout.</b> The matrices are held here exactly as on disk, i.e. for Hugging Face's model, whose
/// q_proj/k_proj rows are in rotate-half order, while Elongate (like GGUF and Meta) keeps them in adjacent-pair order
/// (<see cref="HfRopePermutation"/>). HF's q_proj is P·W for a per-head row permutation P, so the adapter that makes
/// HF's merged weight P·W + s·B_hf·A equal P·(W + s·B·A) is B_hf = P·B: lora_B rows of q_proj and k_proj are permuted
/// exactly as <see cref="HfModelWriter"/> permutes the weight rows; lora_A (columns = the model width) and every
/// other adapter are unchanged. <see cref="FromMatrices"/> applies P, <see cref="ApplyTo"/> undoes it.</para>
/// <para><b>Applying.</b> <see cref="ApplyTo"/> merges at load time: each targeted weight is dequantized to a new fp32
/// copy W + s·B·A (in the base's row layout), the other tensors are shared with the base model, quantized or mapped as
/// they were. A merged projection therefore costs fp32 memory; an unmerged low-rank path at inference is not
/// implemented.</para>
/// </remarks>
public sealed class LoraAdapter
{
    /// <summary>The tensors file PEFT writes.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The config file PEFT writes.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>Prefix of every tensor name: PeftModel.base_model (LoraModel).model (LlamaForCausalLM).model (LlamaModel).</summary>
    public const string NamePrefix = "base_model.model.model.layers.";

    private static readonly Regex TensorName = new(@"^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_(A|B)\.weight$", RegexOptions.CultureInvariant);

    /// <summary>Rank, alpha, dropout, targets and rsLoRA flag.</summary>
    public required LoraSettings Settings { get; init; }

    /// <summary>base_model_name_or_path of the config (informational).</summary>
    public string? BaseModel { get; init; }

    /// <summary>Where the adapter was read from, for messages.</summary>
    public string Source { get; init; } = "<memory>";

    /// <summary>A [r, in] and B [out, r] per adapted (layer, role), in Hugging Face's layout (q/k lora_B rows rotate-half).</summary>
    public required IReadOnlyDictionary<(int Layer, TensorRole Role), (float[] A, float[] B)> HfMatrices { get; init; }

    /// <summary>The PEFT tensor name of one adapter matrix, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.</summary>
    public static string HfTensorName(int layer, TensorRole role, bool isB) =>
        $"{NamePrefix}{layer}.{(role is TensorRole.WGate or TensorRole.WUp or TensorRole.WDown ? "mlp" : "self_attn")}.{LoraSettings.ModuleOf(role)}.lora_{(isB ? "B" : "A")}.weight";

    /// <summary>
    /// An adapter from matrices in Elongate's row layout (A [r, in], B [out, r] per adapted projection), converted to
    /// PEFT's layout (q/k lora_B rows permuted to rotate-half order). The training side calls this with its adapters.
    /// </summary>
    /// <param name="config">The adapted model's config.</param>
    /// <param name="settings">Rank, alpha, targets….</param>
    /// <param name="matrices">A and B of (layer, role) for every layer and every role in <paramref name="settings"/>.</param>
    /// <param name="baseModel">Recorded as base_model_name_or_path.</param>
    /// <param name="source">Names the adapter in messages.</param>
    public static LoraAdapter FromMatrices(LlamaConfig config, LoraSettings settings, Func<int, TensorRole, (float[] A, float[] B)> matrices,
        string? baseModel = null, string source = "<memory>")
    {
        var hf = new Dictionary<(int, TensorRole), (float[], float[])>();
        for (int l = 0; l < config.NumLayers; l++)
            foreach (var role in settings.Roles)
            {
                var (a, b) = matrices(l, role);
                hf[(l, role)] = (a, ToHf(b, role, config, settings.Rank));
            }
        return new LoraAdapter { Settings = settings, BaseModel = baseModel, HfMatrices = hf, Source = source };
    }

    /// <summary>B in Elongate's row layout (adjacent-pair RoPE rows for q/k) → PEFT's (rotate-half).</summary>
    private static float[] ToHf(float[] b, TensorRole role, LlamaConfig c, int rank) => role switch
    {
        TensorRole.Wq => HfRopePermutation.Permute(b, c.NumHeads, c.HeadDim, rank, c.RotaryDim),
        TensorRole.Wk => HfRopePermutation.Permute(b, c.NumKvHeads, c.HeadDim, rank, c.RotaryDim),
        _ => b,
    };

    /// <summary>PEFT's B → Elongate's row layout.</summary>
    private static float[] FromHf(float[] b, TensorRole role, LlamaConfig c, int rank) => role switch
    {
        TensorRole.Wq => HfRopePermutation.Unpermute(b, c.NumHeads, c.HeadDim, rank, c.RotaryDim),
        TensorRole.Wk => HfRopePermutation.Unpermute(b, c.NumKvHeads, c.HeadDim, rank, c.RotaryDim),
        _ => b,
    };

    /// <summary>
    /// A [r, in] and B [out, r] of (<paramref name="layer"/>, <paramref name="role"/>) in Elongate's row layout for a
    /// model of <paramref name="config"/>, or null when that projection has no adapter.
    /// </summary>
    public (float[] A, float[] B)? Matrices(int layer, TensorRole role, LlamaConfig config) =>
        HfMatrices.TryGetValue((layer, role), out var m) ? (m.A, FromHf(m.B, role, config, Settings.Rank)) : null;

    /// <summary>Writes adapter_model.safetensors (F32) and adapter_config.json into <paramref name="directory"/>, both or neither.</summary>
    public void Save(string directory)
    {
        var tensors = new List<SafetensorsTensor>();
        foreach (var ((layer, role), (a, b)) in HfMatrices.OrderBy(kv => kv.Key.Layer).ThenBy(kv => kv.Key.Role))
        {
            tensors.Add(new SafetensorsTensor(HfTensorName(layer, role, false), [Settings.Rank, a.Length / Settings.Rank], a));
            tensors.Add(new SafetensorsTensor(HfTensorName(layer, role, true), [b.Length / Settings.Rank, Settings.Rank], b));
        }
        Directory.CreateDirectory(directory);
        using var staged = new StagedFiles();
        SafetensorsWriter.StageSharded(staged, directory, tensors, long.MaxValue, SafetensorsWriter.PyTorchMetadata, "adapter_model");
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, ConfigFileName)), ConfigJson());
        staged.Commit();
    }

    /// <summary>
    /// adapter_config.json as PEFT's LoraConfig.to_dict writes it (the keys every PEFT version since 0.4 reads; absent
    /// newer keys take their defaults there).
    /// </summary>
    public byte[] ConfigJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("alpha_pattern"); w.WriteEndObject();
            w.WriteNull("auto_mapping");
            if (BaseModel is null) w.WriteNull("base_model_name_or_path"); else w.WriteString("base_model_name_or_path", BaseModel);
            w.WriteString("bias", "none");
            w.WriteBoolean("fan_in_fan_out", false);
            w.WriteBoolean("inference_mode", true);
            w.WriteBoolean("init_lora_weights", true);
            w.WriteNull("layers_pattern");
            w.WriteNull("layers_to_transform");
            if (Settings.Alpha == MathF.Round(Settings.Alpha) && Math.Abs(Settings.Alpha) < 1e9) w.WriteNumber("lora_alpha", (long)Settings.Alpha);
            else w.WriteNumber("lora_alpha", Settings.Alpha);
            w.WriteNumber("lora_dropout", Settings.Dropout);
            w.WriteNull("modules_to_save");
            w.WriteString("peft_type", "LORA");
            w.WriteNumber("r", Settings.Rank);
            w.WriteStartObject("rank_pattern"); w.WriteEndObject();
            w.WriteNull("revision");
            w.WriteStartArray("target_modules");
            foreach (var m in Settings.ModuleNames) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WriteString("task_type", "CAUSAL_LM");
            w.WriteBoolean("use_dora", false);
            w.WriteBoolean("use_rslora", Settings.UseRsLora);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Reads a PEFT LoRA adapter folder. Everything Elongate cannot apply exactly is refused with an error naming
    /// the file and the key or tensor: another peft_type, DoRA, per-module rank/alpha patterns, modules_to_save,
    /// biases, fan_in_fan_out, target_modules given as a pattern (other than "all-linear"), modules that are not one
    /// of the seven Llama projections, tensors whose names or shapes do not fit, an A without its B.
    /// </summary>
    /// <exception cref="ModelFormatException">The folder is not a usable adapter.</exception>
    public static LoraAdapter Load(string directory)
    {
        var dir = Path.GetFullPath(directory);
        var configPath = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(configPath))
            throw new ModelFormatException(configPath, Directory.Exists(dir) ? "no adapter_config.json: not a PEFT adapter folder" : "no such adapter folder");
        var (settings, baseModel) = ReadConfig(configPath);
        var weightsPath = Path.Combine(dir, WeightsFileName);
        if (!File.Exists(weightsPath))
            throw new ModelFormatException(weightsPath, File.Exists(Path.Combine(dir, "adapter_model.bin"))
                ? "only adapter_model.bin (pickle) is here; save the adapter with safe_serialization=True"
                : "adapter_model.safetensors is missing");
        var a = new Dictionary<(int, TensorRole), float[]>();
        var b = new Dictionary<(int, TensorRole), float[]>();
        var names = new Dictionary<(int, TensorRole), string>();
        using (var reader = SafetensorsReader.Open(weightsPath))
        {
            foreach (var info in reader.Tensors)
            {
                var m = TensorName.Match(info.Name);
                if (!m.Success)
                    throw new ModelFormatException(weightsPath, $"unexpected tensor (expected {NamePrefix}{{i}}.self_attn|mlp.{{module}}.lora_A|lora_B.weight)", key: info.Name);
                int layer = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                string parent = m.Groups[2].Value, module = m.Groups[3].Value;
                bool isB = m.Groups[4].Value == "B";
                var role = LoraSettings.RoleOfModule(module)
                    ?? throw new ModelFormatException(weightsPath, $"module '{module}' is not a Llama projection Elongate can adapt", key: info.Name);
                string expectedParent = role is TensorRole.WGate or TensorRole.WUp or TensorRole.WDown ? "mlp" : "self_attn";
                if (parent != expectedParent) throw new ModelFormatException(weightsPath, $"{module} belongs under {expectedParent}, not {parent}", key: info.Name);
                if (!settings.Adapts(role))
                    throw new ModelFormatException(weightsPath, $"module '{module}' is not in target_modules ({string.Join(", ", settings.ModuleNames)})", key: info.Name);
                if (!info.Dtype.IsFloatConvertible()) throw new ModelFormatException(weightsPath, $"dtype {info.Dtype} is not F32, F16 or BF16", key: info.Name);
                if (info.Shape.Length != 2 || (isB ? info.Shape[1] : info.Shape[0]) != settings.Rank || info.Shape.Any(d => d < 1))
                    throw new ModelFormatException(weightsPath, $"shape {info.ShapeText} is not {(isB ? "[out, r]" : "[r, in]")} with r = {settings.Rank}", key: info.Name);
                if (layer > 100_000) throw new ModelFormatException(weightsPath, $"layer index {layer} is implausible", key: info.Name);
                var values = reader.ReadFloat32(info.Name);
                if ((isB ? b : a).ContainsKey((layer, role))) throw new ModelFormatException(weightsPath, "tensor appears twice", key: info.Name);
                (isB ? b : a)[(layer, role)] = values;
                names[(layer, role)] = info.Name;
            }
        }
        var matrices = new Dictionary<(int, TensorRole), (float[], float[])>();
        foreach (var key in a.Keys.Union(b.Keys))
        {
            if (!a.TryGetValue(key, out var av))
                throw new ModelFormatException(weightsPath, "lora_B has no lora_A", key: HfTensorName(key.Item1, key.Item2, false));
            if (!b.TryGetValue(key, out var bv))
                throw new ModelFormatException(weightsPath, "lora_A has no lora_B", key: HfTensorName(key.Item1, key.Item2, true));
            matrices[key] = (av, bv);
        }
        if (matrices.Count == 0) throw new ModelFormatException(weightsPath, "the adapter holds no LoRA tensors");
        // Every adapter of one module must have the same in/out widths.
        foreach (var group in matrices.GroupBy(kv => kv.Key.Item2))
        {
            var first = group.First();
            foreach (var kv in group)
                if (kv.Value.Item1.Length != first.Value.Item1.Length || kv.Value.Item2.Length != first.Value.Item2.Length)
                    throw new ModelFormatException(weightsPath, $"shape differs from layer {first.Key.Item1}'s", key: HfTensorName(kv.Key.Item1, kv.Key.Item2, false));
        }
        return new LoraAdapter { Settings = settings, BaseModel = baseModel, HfMatrices = matrices, Source = dir };
    }

    private static (LoraSettings, string?) ReadConfig(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON: {e.Message}", inner: e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the config is not a JSON object");
            void Fail(string key, string problem) => throw new ModelFormatException(path, problem, key: key);
            JsonElement? Get(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
            bool Flag(string key)
            {
                if (Get(key) is not { } v) return false;
                if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) Fail(key, "must be true or false");
                return v.GetBoolean();
            }
            bool IsEmpty(JsonElement v) => v.ValueKind switch
            {
                JsonValueKind.Object => !v.EnumerateObject().Any(),
                JsonValueKind.Array => v.GetArrayLength() == 0,
                _ => false,
            };

            var type = Get("peft_type");
            if (type is not { ValueKind: JsonValueKind.String } || type.Value.GetString() != "LORA")
                Fail("peft_type", $"peft_type is {(type is { } t ? t.GetRawText() : "missing")}; only LORA adapters are supported");
            if (Get("r") is not { ValueKind: JsonValueKind.Number } r || !r.TryGetInt32(out int rank) || rank < 1)
                throw new ModelFormatException(path, "r must be a positive integer", key: "r");
            float alpha = 8; // PEFT's default
            if (Get("lora_alpha") is { } al)
                if (al.ValueKind != JsonValueKind.Number || !(al.GetDouble() > 0)) Fail("lora_alpha", "lora_alpha must be a positive number"); else alpha = (float)al.GetDouble();
            float dropout = 0;
            if (Get("lora_dropout") is { } dr)
                if (dr.ValueKind != JsonValueKind.Number || !(dr.GetDouble() >= 0 && dr.GetDouble() < 1)) Fail("lora_dropout", "lora_dropout must be in [0, 1)"); else dropout = (float)dr.GetDouble();
            if (Flag("fan_in_fan_out")) Fail("fan_in_fan_out", "fan_in_fan_out adapters (Conv1D layers) do not fit Llama's nn.Linear projections");
            if (Flag("use_dora")) Fail("use_dora", "DoRA adapters are not supported");
            bool rs = Flag("use_rslora");
            if (Get("bias") is { } bias && bias.GetString() != "none") Fail("bias", $"bias {bias.GetRawText()} is not supported (Llama's projections have no bias)");
            foreach (var key in new[] { "rank_pattern", "alpha_pattern" })
                if (Get(key) is { } v && !IsEmpty(v)) Fail(key, $"per-module {key.Replace("_pattern", "", StringComparison.Ordinal)}s are not supported");
            if (Get("modules_to_save") is { } mts && !IsEmpty(mts)) Fail("modules_to_save", "modules_to_save (fully trained extra modules) are not supported");
            if (Get("layer_replication") is { } lr && !IsEmpty(lr)) Fail("layer_replication", "layer_replication is not supported");
            var targets = LoraTargets.None;
            switch (Get("target_modules"))
            {
                case { ValueKind: JsonValueKind.Array } arr:
                    foreach (var item in arr.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String) Fail("target_modules", "target_modules must be strings");
                        var name = item.GetString()!;
                        var role = LoraSettings.RoleOfModule(name);
                        if (role is null) Fail("target_modules", $"target module '{name}' is not a Llama projection Elongate can adapt (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
                        targets |= LoraSettings.Modules.First(m => m.Role == role).Target;
                    }
                    break;
                case { ValueKind: JsonValueKind.String } s when s.GetString() == "all-linear":
                    targets = LoraTargets.All;
                    break;
                case { } other:
                    Fail("target_modules", $"target_modules {other.GetRawText()} is a pattern; list the module names instead");
                    break;
                default:
                    Fail("target_modules", "target_modules is missing");
                    break;
            }
            if (targets == LoraTargets.None) Fail("target_modules", "target_modules is empty");
            var baseModel = Get("base_model_name_or_path") is { ValueKind: JsonValueKind.String } bm ? bm.GetString() : null;
            return (new LoraSettings(rank, alpha, targets, dropout, rs), baseModel);
        }
    }

    /// <summary>
    /// Checks the adapter against a model of <paramref name="config"/>: every layer index exists and every A/B has the
    /// projection's in/out width. Throws naming the tensor.
    /// </summary>
    public void Validate(LlamaConfig config)
    {
        foreach (var ((layer, role), (a, b)) in HfMatrices)
        {
            var (inDim, outDim) = role switch
            {
                TensorRole.Wq => (config.HiddenSize, config.NumHeads * config.HeadDim),
                TensorRole.Wk or TensorRole.Wv => (config.HiddenSize, config.KvDim),
                TensorRole.Wo => (config.NumHeads * config.HeadDim, config.HiddenSize),
                TensorRole.WGate or TensorRole.WUp => (config.HiddenSize, config.IntermediateSize),
                _ => (config.IntermediateSize, config.HiddenSize),
            };
            if (layer >= config.NumLayers)
                throw new ModelFormatException(Source, $"layer {layer} does not exist in a model of {config.NumLayers} layers", key: HfTensorName(layer, role, false));
            if (a.Length != (long)Settings.Rank * inDim)
                throw new ModelFormatException(Source, $"has shape [{Settings.Rank}, {a.Length / Settings.Rank}] but the model's {LoraSettings.ModuleOf(role)} takes {inDim} inputs", key: HfTensorName(layer, role, false));
            if (b.Length != (long)outDim * Settings.Rank)
                throw new ModelFormatException(Source, $"has shape [{b.Length / Settings.Rank}, {Settings.Rank}] but the model's {LoraSettings.ModuleOf(role)} has {outDim} outputs", key: HfTensorName(layer, role, true));
        }
    }

    /// <summary>
    /// <paramref name="model"/> with the adapter merged: each adapted projection becomes a new fp32 weight
    /// W + s·B·A (W dequantized first); every other tensor, the storage, vocabulary and inference options are shared
    /// with <paramref name="model"/>, which must outlive the result (dispose only the original).
    /// </summary>
    /// <exception cref="ModelFormatException">The adapter does not fit the model.</exception>
    public LlamaModel ApplyTo(LlamaModel model)
    {
        var c = model.Config;
        Validate(c);
        float scale = (float)Settings.Scaling;
        var w = model.Weights;
        var layers = new LayerWeights[w.Layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            var lw = w.Layers[l];
            Weight Merge(TensorRole role)
            {
                var weight = lw[role];
                if (Matrices(l, role, c) is not { } m) return weight;
                var merged = weight.Dequantize();
                int r = Settings.Rank, outDim = weight.Rows, inDim = weight.Cols;
                var sb = new float[m.B.Length];
                System.Numerics.Tensors.TensorPrimitives.Multiply(m.B, scale, sb);
                // W[out, in] += (s·B)[out, r] · A[r, in], rounded as the training model's own merge
                Kernels.Gemm.NN(merged, sb, m.A, outDim, inDim, r, accumulate: true);
                return Weight.FromFloats(weight.Name, weight.Shape, merged);
            }
            layers[l] = new LayerWeights
            {
                AttnNorm = lw.AttnNorm, Wq = Merge(TensorRole.Wq), Wk = Merge(TensorRole.Wk), Wv = Merge(TensorRole.Wv), Wo = Merge(TensorRole.Wo),
                FfnNorm = lw.FfnNorm, WGate = Merge(TensorRole.WGate), WDown = Merge(TensorRole.WDown), WUp = Merge(TensorRole.WUp),
            };
        }
        var weights = new LlamaWeights { TokenEmbedding = w.TokenEmbedding, Layers = layers, FinalNorm = w.FinalNorm, Output = w.Output };
        return new LlamaModel
        {
            Config = c, Weights = weights, Vocabulary = model.Vocabulary, Source = $"{model.Source} + LoRA {Source}", Inference = model.Inference,
        };
    }
}
