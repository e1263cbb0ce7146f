using Elongate.Common;

namespace Elongate.Rope;

public sealed partial record RopeScaling
{
    /// <summary>Tensor holding per-pair frequency divisors, as llama.cpp names it.</summary>
    public const string RopeFreqsTensor = "rope_freqs.weight";

    /// <summary>LongRoPE long-factor tensor (llama.cpp's Phi-3 name).</summary>
    public const string RopeFactorsLongTensor = "rope_factors_long.weight";

    /// <summary>LongRoPE short-factor tensor (llama.cpp's Phi-3 name).</summary>
    public const string RopeFactorsShortTensor = "rope_factors_short.weight";

    /// <summary>
    /// Reads RoPE settings from GGUF metadata with llama.cpp's key names ({arch}.rope.freq_base,
    /// .rope.dimension_count, .rope.scaling.type/factor/attn_factor/original_context_length/finetuned, the yarn_* keys,
    /// legacy .rope.scale_linear) plus Elongate's own <c>{arch}.rope.scaling.elongate.*</c> keys for what llama.cpp
    /// cannot express. <paramref name="lookup"/> returns the plain .NET value of a key (uint/int/float/double/string/
    /// bool/float[]) or null when absent. Tensors are passed separately: <paramref name="ropeFreqs"/> (rope_freqs),
    /// <paramref name="ropeFactorsLong"/>/<paramref name="ropeFactorsShort"/> (Phi-3 longrope). The model's current context
    /// (for llama3's L &lt; max check) is <paramref name="contextLength"/> or else {arch}.context_length.
    /// </summary>
    /// <remarks>
    /// llama.cpp semantics kept: a missing scaling type means linear (none when the factor is 1); for yarn,
    /// attn_factor multiplies YaRN's own 0.1·ln s + 1 (ggml's rope_yarn does mscale *= 1 + 0.1·ln s), for other types
    /// it is the whole factor; yarn_log_multiplier is 0.1·mscale_all_dim (DeepSeek convention).
    /// </remarks>
    public static RopeSettings FromGgufMetadata(string arch, Func<string, object?> lookup, float[]? ropeFreqs = null,
        float[]? ropeFactorsLong = null, float[]? ropeFactorsShort = null, string source = "<gguf>", int? contextLength = null)
    {
        string k(string name) => $"{arch}.{name}";
        double? Num(string key) => lookup(key) switch
        {
            null => null,
            float f => f,
            double d => d,
            int i => i,
            uint u => u,
            long l => l,
            ulong ul => ul,
            short s => s,
            ushort us => us,
            byte b => b,
            sbyte sb => sb,
            var o => throw new ModelFormatException(source, $"expected a number, got {o.GetType().Name}", key: key),
        };
        int? Int(string key)
        {
            var v = Num(key);
            if (v is null) return null;
            if (v != Math.Floor(v.Value) || v < 0 || v > int.MaxValue) throw new ModelFormatException(source, $"expected a non-negative integer, got {v}", key: key);
            return (int)v.Value;
        }
        string? Str(string key) => lookup(key) switch
        {
            null => null,
            string s => s,
            var o => throw new ModelFormatException(source, $"expected a string, got {o.GetType().Name}", key: key),
        };
        bool? Bool(string key) => lookup(key) switch
        {
            null => null,
            bool b => b,
            var o => throw new ModelFormatException(source, $"expected a bool, got {o.GetType().Name}", key: key),
        };
        double[]? Arr(string key) => lookup(key) switch
        {
            null => null,
            float[] f => Array.ConvertAll(f, x => (double)x),
            double[] d => (double[])d.Clone(),
            var o => throw new ModelFormatException(source, $"expected a float array, got {o.GetType().Name}", key: key),
        };

        double b = Num(k("rope.freq_base")) ?? 10000.0;
        int? dim = Int(k("rope.dimension_count"));
        string? llamaType = Str(k("rope.scaling.type"));
        string? ownType = Str(k("rope.scaling.elongate.type"));
        double factor = Num(k("rope.scaling.elongate.factor"))
            ?? (Num(k("rope.scaling.factor")) is { } f0 && f0 != 0 ? f0 : Num(k("rope.scale_linear")) is { } f1 && f1 != 0 ? f1 : 1.0);
        string type = ownType ?? llamaType switch
        {
            null => factor != 1.0 ? RopeTypes.Linear : RopeTypes.Default, // llama.cpp's default type is linear
            "none" => RopeTypes.Default,
            "linear" => RopeTypes.Linear,
            "yarn" => RopeTypes.Yarn,
            "longrope" => RopeTypes.LongRope,
            _ => throw new ModelFormatException(source, $"unknown RoPE scaling type '{llamaType}' (llama.cpp knows none, linear, yarn, longrope)", key: k("rope.scaling.type")),
        };
        if (ownType is not null && llamaType is not null && LlamaCppTypeName(ownType) != llamaType)
            throw new ModelFormatException(source, $"contradictory scaling types: '{llamaType}' for llama.cpp but '{ownType}' in Elongate's key", key: k("rope.scaling.type"));

        double? ext = Num(k("rope.scaling.yarn_ext_factor"));
        if (ext is { } e && e != 1.0 && type == RopeTypes.Yarn)
            throw new ModelFormatException(source, $"yarn_ext_factor {e} is not supported: Elongate implements YaRN's full ramp (ext_factor 1) only", key: k("rope.scaling.yarn_ext_factor"));
        double? attn = Num(k("rope.scaling.attn_factor"));
        if (Num(k("rope.scaling.yarn_attn_factor")) is { } ya) attn = (attn ?? 1.0) * ya;
        double? logMul = Num(k("rope.scaling.yarn_log_multiplier"));

        var s = new RopeScaling
        {
            Type = type,
            Factor = factor,
            OriginalContext = Int(k("rope.scaling.original_context_length")),
            Finetuned = Bool(k("rope.scaling.finetuned")),
            BetaFast = Num(k("rope.scaling.yarn_beta_fast")) ?? 32.0,
            BetaSlow = Num(k("rope.scaling.yarn_beta_slow")) ?? 1.0,
            LowFreqFactor = Num(k("rope.scaling.elongate.low_freq_factor")) ?? 1.0,
            HighFreqFactor = Num(k("rope.scaling.elongate.high_freq_factor")) ?? 4.0,
            MScale = Num(k("rope.scaling.elongate.mscale")),
            MScaleAllDim = logMul is { } lm && lm != 0 ? (float)(lm / 0.1) : null, // f32 in the file: round the quotient back to f32
            Truncate = Bool(k("rope.scaling.elongate.truncate")) ?? true,
            XposScaleBase = Num(k("rope.scaling.elongate.xpos_scale_base")) ?? 512.0,
            ShortFactor = Arr(k("rope.scaling.elongate.short_factor")) ?? (ropeFactorsShort is null ? null : Array.ConvertAll(ropeFactorsShort, x => (double)x)),
            LongFactor = Arr(k("rope.scaling.elongate.long_factor")) ?? (ropeFactorsLong is null ? null : Array.ConvertAll(ropeFactorsLong, x => (double)x)),
        };
        if (attn is { } a)
        {
            double full = type == RopeTypes.Yarn ? a * RopeTypes.YarnAttentionFactor(s) : a;
            double implied = ImpliedAttentionFactor(s);
            // A value equal (in float) to the type's own default was written for llama.cpp's sake only.
            if ((float)full != (float)implied) s = s with { AttentionFactor = full };
        }
        var settings = new RopeSettings { Base = b, DimensionCount = dim, Scaling = s };
        if (ropeFreqs is not null)
        {
            var ff = Array.ConvertAll(ropeFreqs, x => (double)x);
            if (type is RopeTypes.Llama3 or RopeTypes.Ntk)
            {
                // Written by ToGgufTensors so llama.cpp reproduces the type; it must agree with the metadata.
                int d = dim ?? 2 * ff.Length;
                var implied = s.FrequencyDivisors(b, d);
                for (int i = 0; i < ff.Length && i < implied.Length; i++)
                    if (Math.Abs(ff[i] - implied[i]) > 1e-5 * implied[i] || ff.Length != implied.Length)
                        throw new ModelFormatException(source, $"rope_freqs entry {i} is {ff[i]} but the {type} settings imply {implied[i]}", key: RopeFreqsTensor);
            }
            else s = s with { FrequencyFactors = ff };
            settings = settings with { Scaling = s };
        }
        s.Validate(source, contextLength ?? Int(k("context_length")), dim);
        return settings;
    }

    /// <summary>The attention factor the type gives when none is set explicitly.</summary>
    private static double ImpliedAttentionFactor(RopeScaling s) => s.Type switch
    {
        RopeTypes.Yarn => RopeTypes.YarnAttentionFactor(s),
        RopeTypes.LongRope when s.OriginalContext is { } l => RopeTypes.LongRopeAttentionFactor(s.Factor, l),
        _ => 1.0,
    };

    /// <summary>llama.cpp's rope.scaling.type for an Elongate type (types llama.cpp lacks are written as "none").</summary>
    public static string LlamaCppTypeName(string type) => type switch
    {
        RopeTypes.Linear => "linear",
        RopeTypes.Yarn => "yarn",
        RopeTypes.LongRope => "longrope",
        _ => "none",
    };

    /// <summary>
    /// The scaling keys for GGUF, llama.cpp names first. Types llama.cpp lacks are written as "none" plus
    /// <c>{arch}.rope.scaling.elongate.type</c>; for ntk and llama3 <see cref="ToGgufTensors"/> adds a rope_freqs tensor
    /// so llama.cpp computes the same frequencies; dynamic and xpos have no llama.cpp equivalent (it runs them as plain
    /// RoPE). Numbers are float32, as llama.cpp requires.
    /// </summary>
    public IEnumerable<KeyValuePair<string, object>> ToGgufMetadata(string arch)
    {
        string k(string name) => $"{arch}.{name}";
        string llama = LlamaCppTypeName(Type);
        yield return new(k("rope.scaling.type"), llama);
        if (llama == "none" && Type != RopeTypes.Default) yield return new(k("rope.scaling.elongate.type"), Type);
        // llama.cpp applies rope.scaling.factor whatever the type, so only write it where the type is a plain position scale.
        if (Type is RopeTypes.Linear or RopeTypes.Yarn or RopeTypes.LongRope) yield return new(k("rope.scaling.factor"), (float)Factor);
        else if (Factor != 1.0) yield return new(k("rope.scaling.elongate.factor"), (float)Factor);
        if (OriginalContext is { } l) yield return new(k("rope.scaling.original_context_length"), (uint)l);
        if (Finetuned is { } ft) yield return new(k("rope.scaling.finetuned"), ft);
        if (Type == RopeTypes.Yarn)
        {
            yield return new(k("rope.scaling.yarn_beta_fast"), (float)BetaFast);
            yield return new(k("rope.scaling.yarn_beta_slow"), (float)BetaSlow);
            if (MScaleAllDim is { } ma) yield return new(k("rope.scaling.yarn_log_multiplier"), (float)(0.1 * ma));
            if (MScale is { } m) yield return new(k("rope.scaling.elongate.mscale"), (float)m);
            if (!Truncate) yield return new(k("rope.scaling.elongate.truncate"), false);
        }
        if (AttentionFactor is { } a)
            yield return new(k("rope.scaling.attn_factor"), (float)(Type == RopeTypes.Yarn ? a / RopeTypes.YarnAttentionFactor(this with { AttentionFactor = null }) : a));
        else if (Type == RopeTypes.LongRope && OriginalContext is { } lo)
            yield return new(k("rope.scaling.attn_factor"), (float)RopeTypes.LongRopeAttentionFactor(Factor, lo)); // llama.cpp uses attn_factor as is
        if (Type == RopeTypes.Llama3)
        {
            yield return new(k("rope.scaling.elongate.low_freq_factor"), (float)LowFreqFactor);
            yield return new(k("rope.scaling.elongate.high_freq_factor"), (float)HighFreqFactor);
        }
        if (Type == RopeTypes.Xpos) yield return new(k("rope.scaling.elongate.xpos_scale_base"), (float)XposScaleBase);
    }

    /// <summary>
    /// Tensors that carry per-pair factors for llama.cpp: rope_freqs (explicit <see cref="FrequencyFactors"/>, or the
    /// divisors that turn plain RoPE into ntk/llama3) and Phi-3's rope_factors_long/short for longrope.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> ToGgufTensors(double ropeBase, int rotaryDim)
    {
        var t = new Dictionary<string, float[]>();
        if (FrequencyFactors is { } ff) t[RopeFreqsTensor] = Array.ConvertAll(ff, x => (float)x);
        else if (Type is RopeTypes.Llama3 or RopeTypes.Ntk) t[RopeFreqsTensor] = Array.ConvertAll(FrequencyDivisors(ropeBase, rotaryDim), x => (float)x);
        if (Type == RopeTypes.LongRope)
        {
            t[RopeFactorsLongTensor] = Array.ConvertAll(LongFactor!, x => (float)x);
            t[RopeFactorsShortTensor] = Array.ConvertAll(ShortFactor!, x => (float)x);
        }
        return t;
    }

    /// <summary>ff_i = θ_i / θ'_i: what ggml must divide plain RoPE frequencies by to get this type's.</summary>
    internal double[] FrequencyDivisors(double ropeBase, int rotaryDim)
    {
        var plain = RopeTypes.DefaultInverseFrequencies(ropeBase, rotaryDim);
        var scaled = RopeTypes.Table[Type](ropeBase, rotaryDim, this, 1).InverseFrequencies;
        var ff = new double[plain.Length];
        for (int i = 0; i < ff.Length; i++) ff[i] = plain[i] / scaled[i];
        return ff;
    }
}
