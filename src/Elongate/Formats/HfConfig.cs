using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Model;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// A Hugging Face config.json for model_type "llama", mapped onto <see cref="LlamaConfig"/>. Fields our config has
/// no slot for are kept so writing the file back loses nothing: rope_scaling as its raw JSON object (the RoPE code
/// interprets it), every unrecognised key verbatim in <see cref="Extra"/>, and a list-valued eos_token_id.
/// Settings the forward pass cannot honour (another activation, bias terms, a head_dim that is not
/// hidden_size / num_attention_heads) are rejected rather than silently ignored.
/// </summary>
public sealed record HfConfig
{
    /// <summary>The model hyper-parameters.</summary>
    public required LlamaConfig Model { get; init; }

    /// <summary>
    /// rope_scaling exactly as found on disk (null when absent or JSON null), for display. What the model runs with,
    /// and what is written back, is the interpreted <see cref="LlamaConfig.RopeScaling"/> of <see cref="Model"/>.
    /// </summary>
    public JsonObject? RopeScaling { get; init; }

    /// <summary>torch_dtype ("float32", "bfloat16", …), or null.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>All eos ids when config.json lists several (Llama 3 style); the first is <see cref="LlamaConfig.EosTokenId"/>.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>Keys this type does not interpret, written back unchanged.</summary>
    public JsonObject? Extra { get; init; }

    private static readonly HashSet<string> KnownKeys =
    [
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "rms_norm_eps",
        "rope_theta", "rope_scaling", "partial_rotary_factor", "max_position_embeddings", "tie_word_embeddings", "vocab_size",
        "bos_token_id", "eos_token_id", "model_type", "architectures", "torch_dtype", "dtype", "head_dim", "hidden_act",
        "attention_bias", "mlp_bias",
    ];

    /// <summary>Wraps a <see cref="LlamaConfig"/> for writing.</summary>
    public static HfConfig FromLlamaConfig(LlamaConfig config, string? torchDtype = null) =>
        new() { Model = config, TorchDtype = torchDtype };

    /// <summary>Reads and validates a config.json.</summary>
    public static HfConfig Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read config: {e.Message}", inner: e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in errors.</summary>
    public static HfConfig Parse(ReadOnlySpan<byte> utf8Json, string source)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            var scratch = new char[utf8Json.Length];
            System.Text.Unicode.Utf8.ToUtf16(utf8Json, scratch, out int valid, out _, replaceInvalidSequences: false);
            throw new ModelFormatException(source, "config is not valid UTF-8", valid);
        }
        JsonObject root;
        try
        {
            using var doc = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(source, $"config must be a JSON object, got {doc.RootElement.ValueKind}", 0);
            root = (JsonObject)ToNode(doc.RootElement, source, "")!;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"config is not valid JSON: {e.Message}", OffsetOf(utf8Json, e), inner: e);
        }
        catch (InvalidOperationException e)
        {
            // Text that is valid UTF-8 but escapes an invalid UTF-16 sequence ("\ud800") fails only when a string is read.
            throw new ModelFormatException(source, $"config holds an invalid string: {e.Message}", inner: e);
        }

        int RequiredInt(string key) => root.TryGetPropertyValue(key, out var v) ? AsInt(v, key) : throw Missing(key);
        int AsInt(JsonNode? v, string key) =>
            v is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number && jv.TryGetValue(out int i)
                ? i
                : throw WrongType(key, "an integer", v);
        float OptionalFloat(string key, float fallback)
        {
            if (!root.TryGetPropertyValue(key, out var v)) return fallback;
            if (v is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number && jv.TryGetValue(out double d) && double.IsFinite(d)
                && Math.Abs(d) <= float.MaxValue)
                return (float)d;
            throw WrongType(key, "a finite number", v);
        }
        bool OptionalBool(string key, bool fallback)
        {
            if (!root.TryGetPropertyValue(key, out var v)) return fallback;
            return v?.GetValueKind() switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw WrongType(key, "true or false", v),
            };
        }
        string? OptionalString(string key)
        {
            if (!root.TryGetPropertyValue(key, out var v) || v is null) return null;
            return v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw WrongType(key, "a string", v);
        }
        ModelFormatException Missing(string key) => new(source, "required key is missing", key: key);
        ModelFormatException WrongType(string key, string expected, JsonNode? v) =>
            new(source, $"must be {expected}, got {(v is null ? "null" : v.ToJsonString())}", key: key);
        ModelFormatException Unsupported(string key, string why) => new(source, why, key: key);

        var modelType = OptionalString("model_type") ?? throw Missing("model_type");
        if (modelType != "llama") throw Unsupported("model_type", $"only \"llama\" is supported, got \"{modelType}\"");
        if (root.TryGetPropertyValue("architectures", out var arch) && arch is not null)
        {
            if (arch is not JsonArray archArray || archArray.Any(a => a?.GetValueKind() != JsonValueKind.String))
                throw WrongType("architectures", "an array of strings", arch);
        }
        var act = OptionalString("hidden_act");
        if (act is not null && act != "silu") throw Unsupported("hidden_act", $"only \"silu\" (SwiGLU) is supported, got \"{act}\"");
        if (OptionalBool("attention_bias", false)) throw Unsupported("attention_bias", "attention bias terms are not supported");
        if (OptionalBool("mlp_bias", false)) throw Unsupported("mlp_bias", "MLP bias terms are not supported");

        int hidden = RequiredInt("hidden_size");
        int heads = RequiredInt("num_attention_heads");
        int kvHeads = root.TryGetPropertyValue("num_key_value_heads", out var kvNode) && kvNode is not null
            ? AsInt(kvNode, "num_key_value_heads")
            : heads;
        if (root.TryGetPropertyValue("head_dim", out var hdNode) && hdNode is not null)
        {
            int hd = AsInt(hdNode, "head_dim");
            if (heads <= 0 || hidden % heads != 0 || hd != hidden / heads)
                throw Unsupported("head_dim", $"head_dim {hd} differs from hidden_size / num_attention_heads ({hidden} / {heads}); not supported");
        }
        int? rotaryDim = null;
        if (root.TryGetPropertyValue("partial_rotary_factor", out var prf) && prf is not null)
        {
            float factor = OptionalFloat("partial_rotary_factor", 1f);
            if (!(factor > 0f && factor <= 1f)) throw WrongType("partial_rotary_factor", "a number in (0, 1]", prf);
            if (heads <= 0 || hidden % heads != 0) throw Unsupported("num_attention_heads", $"{heads} heads do not divide hidden size {hidden}");
            // transformers truncates head_dim·factor to an int; the small epsilon absorbs factors like 1/3 written in decimal.
            rotaryDim = (int)Math.Floor((double)(hidden / heads) * factor + 1e-6);
            if (rotaryDim < 2 || rotaryDim % 2 != 0)
                throw Unsupported("partial_rotary_factor", $"gives {rotaryDim} rotary dimensions of head size {hidden / heads}; RoPE needs an even, positive count");
        }

        int? bos = OptionalTokenId(root, "bos_token_id", source, out _);
        int? eos = OptionalTokenId(root, "eos_token_id", source, out var eosList);

        var torchDtype = OptionalString("torch_dtype") ?? OptionalString("dtype");
        JsonObject? ropeScaling = null;
        if (root.TryGetPropertyValue("rope_scaling", out var rs) && rs is not null)
            ropeScaling = rs as JsonObject ?? throw WrongType("rope_scaling", "an object or null", rs);

        // RoPE type and parameters are interpreted in one place (Rope/), from the untouched config object.
        var rope = Rope.RopeScaling.FromHfConfig(root, source);
        var config = new LlamaConfig
        {
            RopeScaling = rope.Scaling == Rope.RopeScaling.None ? null : rope.Scaling,
            HiddenSize = hidden,
            IntermediateSize = RequiredInt("intermediate_size"),
            NumLayers = RequiredInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            VocabSize = RequiredInt("vocab_size"),
            MaxPositionEmbeddings = RequiredInt("max_position_embeddings"),
            RmsNormEps = root.ContainsKey("rms_norm_eps") ? OptionalFloat("rms_norm_eps", 1e-6f) : throw Missing("rms_norm_eps"),
            RopeTheta = OptionalFloat("rope_theta", 10000f),
            RopeDimensionCount = rotaryDim == hidden / heads ? null : rotaryDim, // null: the whole head rotates
            TieWordEmbeddings = OptionalBool("tie_word_embeddings", false),
            BosTokenId = bos ?? 1,
            EosTokenId = eos ?? 2,
        };
        config.Validate(source);

        var extra = new JsonObject();
        foreach (var (key, value) in root.ToList())
        {
            if (KnownKeys.Contains(key)) continue;
            root.Remove(key);
            extra[key] = value;
        }
        if (ropeScaling is not null) root.Remove("rope_scaling");
        return new HfConfig
        {
            Model = config,
            RopeScaling = ropeScaling,
            TorchDtype = torchDtype,
            EosTokenIds = eosList,
            Extra = extra.Count > 0 ? extra : null,
        };
    }

    /// <summary>config.json bytes as transformers writes them: two-space indent, keys sorted, trailing newline.</summary>
    public byte[] ToJsonBytes()
    {
        var c = Model;
        var entries = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (Extra is not null)
            foreach (var (k, v) in Extra) entries[k] = v?.DeepClone();
        entries["architectures"] = new JsonArray("LlamaForCausalLM");
        entries["model_type"] = "llama";
        entries["hidden_act"] = "silu";
        entries["attention_bias"] = false;
        entries["mlp_bias"] = false;
        entries["hidden_size"] = c.HiddenSize;
        entries["intermediate_size"] = c.IntermediateSize;
        entries["num_hidden_layers"] = c.NumLayers;
        entries["num_attention_heads"] = c.NumHeads;
        entries["num_key_value_heads"] = c.NumKvHeads;
        entries["head_dim"] = c.HeadDim;
        entries["vocab_size"] = c.VocabSize;
        entries["max_position_embeddings"] = c.MaxPositionEmbeddings;
        entries["rms_norm_eps"] = ShortestDouble(c.RmsNormEps);
        entries["rope_theta"] = ShortestDouble(c.RopeTheta);
        // The interpreted scaling wins over the raw object read from disk, so a changed RoPE is exported as changed.
        if (c.RopeScaling is { } scaling)
        {
            var ropeNode = new JsonObject();
            scaling.ToHfConfig(ropeNode);
            entries["rope_scaling"] = ropeNode["rope_scaling"]?.DeepClone();
        }
        else entries["rope_scaling"] = null;
        if (c.RopeDimensionCount is { } rot) entries["partial_rotary_factor"] = (double)rot / c.HeadDim;
        entries["tie_word_embeddings"] = c.TieWordEmbeddings;
        entries["bos_token_id"] = c.BosTokenId;
        entries["eos_token_id"] = EosTokenIds is { Count: > 0 } ids && ids[0] == c.EosTokenId
            ? new JsonArray(ids.Select(i => (JsonNode?)i).ToArray())
            : c.EosTokenId;
        if (TorchDtype is not null) entries["torch_dtype"] = TorchDtype;
        var obj = new JsonObject();
        foreach (var (k, v) in entries) obj[k] = v;
        var text = obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return System.Text.Encoding.UTF8.GetBytes(text + "\n");
    }

    /// <summary>Writes config.json atomically (temp file + rename).</summary>
    public void Save(string path)
    {
        using var staged = new StagedFiles();
        File.WriteAllBytes(staged.Stage(path), ToJsonBytes());
        staged.Commit();
    }

    /// <summary>The float's shortest decimal form as a double, so 1e-5f is written "1E-05", not "9.99999974737875E-06".</summary>
    private static double ShortestDouble(float f) => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static int? OptionalTokenId(JsonObject root, string key, string source, out IReadOnlyList<int>? all)
    {
        all = null;
        if (!root.TryGetPropertyValue(key, out var v) || v is null) return null;
        if (v is JsonValue jv && jv.GetValueKind() == JsonValueKind.Number && jv.TryGetValue(out int id)) return id;
        if (v is JsonArray arr && arr.Count > 0)
        {
            var ids = new List<int>();
            foreach (var item in arr)
            {
                if (item is JsonValue iv && iv.GetValueKind() == JsonValueKind.Number && iv.TryGetValue(out int x)) ids.Add(x);
                else throw new ModelFormatException(source, $"must be an integer or a non-empty list of integers, got {v.ToJsonString()}", key: key);
            }
            all = ids;
            return ids[0];
        }
        throw new ModelFormatException(source, $"must be an integer or a non-empty list of integers, got {v.ToJsonString()}", key: key);
    }

    /// <summary>Builds a JsonNode tree, rejecting duplicate keys (JsonObject would otherwise throw later, lazily).</summary>
    private static JsonNode? ToNode(JsonElement e, string source, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var p in e.EnumerateObject())
                {
                    string child = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
                    if (obj.ContainsKey(p.Name)) throw new ModelFormatException(source, "key appears twice", key: child);
                    obj[p.Name] = ToNode(p.Value, source, child);
                }
                return obj;
            case JsonValueKind.Array:
                var arr = new JsonArray();
                int i = 0;
                foreach (var item in e.EnumerateArray()) arr.Add(ToNode(item, source, $"{path}[{i++}]"));
                return arr;
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return JsonValue.Create(e.GetString()); // decoded now, so an escaped lone surrogate fails inside Parse's try
            case JsonValueKind.True:
            case JsonValueKind.False:
                return JsonValue.Create(e.GetBoolean());
            default:
                return JsonNode.Parse(e.GetRawText());
        }
    }

    private static long? OffsetOf(ReadOnlySpan<byte> text, JsonException e)
    {
        if (e.LineNumber is not { } line || e.BytePositionInLine is not { } col) return null;
        long offset = 0;
        for (long l = 0; l < line; l++)
        {
            int nl = text[(int)offset..].IndexOf((byte)'\n');
            if (nl < 0) return null;
            offset += nl + 1;
        }
        return offset + col;
    }
}
