using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Common;

namespace Elongate.Rope;

public sealed partial record RopeScaling
{
    /// <summary>
    /// Reads RoPE settings from a Hugging Face config.json object: rope_theta, partial_rotary_factor and rope_scaling
    /// (with "rope_type" or the legacy "type" key; transformers v5's "rope_parameters" is read the same way). Where
    /// rope_scaling has no original_max_position_embeddings, L is the top-level original_max_position_embeddings or
    /// max_position_embeddings, as transformers does for dynamic, yarn and longrope. Validates against
    /// max_position_embeddings.
    /// </summary>
    public static RopeSettings FromHfConfig(JsonObject config, string source = "config.json")
    {
        double? Num(JsonObject o, string key)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return null;
            if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number) return v.GetValue<double>();
            throw new ModelFormatException(source, $"expected a number, got {n.ToJsonString()}", key: key);
        }
        int? Int(JsonObject o, string key)
        {
            var v = Num(o, key);
            if (v is null) return null;
            if (v != Math.Floor(v.Value) || v <= 0 || v > int.MaxValue) throw new ModelFormatException(source, $"expected a positive integer, got {v}", key: key);
            return (int)v.Value;
        }
        double[]? Arr(JsonObject o, string key)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return null;
            if (n is not JsonArray a) throw new ModelFormatException(source, "expected an array of numbers", key: key);
            var r = new double[a.Count];
            for (int i = 0; i < r.Length; i++)
                r[i] = a[i] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>()
                    : throw new ModelFormatException(source, $"entry {i} is not a number", key: key);
            return r;
        }
        bool? Bool(JsonObject o, string key)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return null;
            return n is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>()
                : throw new ModelFormatException(source, $"expected true or false, got {n.ToJsonString()}", key: key);
        }

        int? maxPos = Int(config, "max_position_embeddings");
        JsonObject? rs = null;
        foreach (var key in new[] { "rope_scaling", "rope_parameters" })
            if (config.TryGetPropertyValue(key, out var node) && node is not null)
            {
                rs = node as JsonObject ?? throw new ModelFormatException(source, "expected an object", key: key);
                break;
            }
        double b = Num(config, "rope_theta") ?? (rs is null ? null : Num(rs, "rope_theta")) ?? 10000.0;
        double? partial = Num(config, "partial_rotary_factor");
        if (partial is { } p && (!(p > 0) || p > 1))
            throw new ModelFormatException(source, $"partial_rotary_factor must be in (0, 1], got {p}", key: "partial_rotary_factor");

        var scaling = None;
        if (rs is not null)
        {
            string? t = null;
            foreach (var key in new[] { "rope_type", "type" })
                if (rs.TryGetPropertyValue(key, out var n) && n is not null)
                {
                    var name = n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                        : throw new ModelFormatException(source, "expected a string", key: $"rope_scaling.{key}");
                    if (t is not null && t != name)
                        throw new ModelFormatException(source, $"rope_type '{t}' contradicts type '{name}'", key: "rope_scaling.type");
                    t = name;
                }
            t ??= RopeTypes.Default;
            if (t == "su") t = RopeTypes.LongRope; // Phi-3's first name for longrope, as transformers maps it
            bool needsL = t is RopeTypes.Dynamic or RopeTypes.Yarn or RopeTypes.LongRope;
            scaling = new RopeScaling
            {
                Type = t,
                Factor = Num(rs, "factor") ?? (t == RopeTypes.LongRope && maxPos is { } mp && Int(config, "original_max_position_embeddings") is { } om ? (double)mp / om : 1.0),
                OriginalContext = Int(rs, "original_max_position_embeddings")
                    ?? (needsL ? Int(config, "original_max_position_embeddings") ?? maxPos : null),
                LowFreqFactor = Num(rs, "low_freq_factor") ?? 1.0,
                HighFreqFactor = Num(rs, "high_freq_factor") ?? 4.0,
                BetaFast = Num(rs, "beta_fast") ?? 32.0,
                BetaSlow = Num(rs, "beta_slow") ?? 1.0,
                AttentionFactor = Num(rs, "attention_factor"),
                MScale = Num(rs, "mscale"),
                MScaleAllDim = Num(rs, "mscale_all_dim"),
                Truncate = Bool(rs, "truncate") ?? true,
                ShortFactor = Arr(rs, "short_factor"),
                LongFactor = Arr(rs, "long_factor"),
                XposScaleBase = Num(rs, "xpos_scale_base") ?? 512.0,
                Finetuned = Bool(rs, "finetuned"),
                FrequencyFactors = Arr(rs, "elongate_frequency_factors"),
            };
        }
        scaling.Validate(source, maxPos);
        return new RopeSettings { Base = b, PartialRotaryFactor = partial, Scaling = scaling };
    }

    /// <summary>
    /// Writes rope_scaling into a Hugging Face config (null for plain RoPE), with both "rope_type" and the legacy
    /// "type" so old and new transformers read it. Only the keys the type uses are written. ntk and xpos are
    /// Elongate types that transformers does not know.
    /// </summary>
    public void ToHfConfig(JsonObject config)
    {
        if (Type == RopeTypes.Default && FrequencyFactors is null && AttentionFactor is null)
        {
            config["rope_scaling"] = null;
            return;
        }
        var o = new JsonObject { ["rope_type"] = Type, ["type"] = Type };
        if (Type is not (RopeTypes.Default or RopeTypes.Xpos)) o["factor"] = Factor;
        if (OriginalContext is { } l) o["original_max_position_embeddings"] = l;
        if (AttentionFactor is { } a) o["attention_factor"] = a;
        if (Finetuned is { } ft) o["finetuned"] = ft;
        // A GGUF rope_freqs tensor has no transformers equivalent; keep it under Elongate's own key.
        if (FrequencyFactors is { } ff) o["elongate_frequency_factors"] = new JsonArray(ff.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        switch (Type)
        {
            case RopeTypes.Llama3:
                o["low_freq_factor"] = LowFreqFactor;
                o["high_freq_factor"] = HighFreqFactor;
                break;
            case RopeTypes.Yarn:
                o["beta_fast"] = BetaFast;
                o["beta_slow"] = BetaSlow;
                if (MScale is { } m) o["mscale"] = m;
                if (MScaleAllDim is { } ma) o["mscale_all_dim"] = ma;
                if (!Truncate) o["truncate"] = false;
                break;
            case RopeTypes.LongRope:
                o["short_factor"] = new JsonArray(ShortFactor!.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
                o["long_factor"] = new JsonArray(LongFactor!.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
                break;
            case RopeTypes.Xpos:
                o["xpos_scale_base"] = XposScaleBase;
                break;
        }
        config["rope_scaling"] = o;
        // transformers before v4.45 read longrope's L only from the top level (Phi-3 layout).
        if (Type == RopeTypes.LongRope && OriginalContext is { } lo) config["original_max_position_embeddings"] = lo;
    }
}
