using Elongate.Common;

namespace Elongate.Rope;

/// <summary>
/// How a model stretches its rotary position embedding: one type name (as transformers' <c>rope_type</c>) plus every
/// parameter any type uses. Parameters a type does not use keep their defaults, so one record can be written to and
/// read from both GGUF metadata and a Hugging Face config without a class per type.
/// </summary>
/// <remarks>
/// Types (θ_i = b^(−2i/d), s = <see cref="Factor"/>, L = <see cref="OriginalContext"/>):
/// <c>default</c> (ABF is default with another base), <c>linear</c> (PI, θ_i/s), <c>ntk</c> (b·s^(d/(d−2))),
/// <c>dynamic</c> (b·((s·ℓ/L)−(s−1))^(d/(d−2)), ℓ = max(length, L)), <c>yarn</c>, <c>llama3</c>, <c>longrope</c>,
/// <c>xpos</c> (default frequencies plus the xPos per-position query/key scale). <see cref="RopeTypes"/> holds the
/// formulas.
/// </remarks>
public sealed partial record RopeScaling
{
    /// <summary>Type name; one of <see cref="RopeTypes.Names"/>.</summary>
    public string Type { get; init; } = RopeTypes.Default;

    /// <summary>Scaling factor s (context multiple). Must be ≥ 1; exactly 1 for <c>default</c> and <c>xpos</c>.</summary>
    public double Factor { get; init; } = 1.0;

    /// <summary>Context length L the model was pre-trained with (needed by dynamic, yarn, llama3, longrope).</summary>
    public int? OriginalContext { get; init; }

    /// <summary>llama3: wavelengths longer than L/low_freq_factor are fully interpolated (divided by s).</summary>
    public double LowFreqFactor { get; init; } = 1.0;

    /// <summary>llama3: wavelengths shorter than L/high_freq_factor are left alone.</summary>
    public double HighFreqFactor { get; init; } = 4.0;

    /// <summary>yarn: number of rotations over L above which a dimension is extrapolated (paper's β = 32).</summary>
    public double BetaFast { get; init; } = 32.0;

    /// <summary>yarn: number of rotations over L below which a dimension is interpolated (paper's α = 1).</summary>
    public double BetaSlow { get; init; } = 1.0;

    /// <summary>
    /// Explicit attention magnitude factor (HF <c>attention_factor</c>): replaces the type's own default
    /// (yarn 0.1·ln s + 1, longrope √(1 + ln s / ln L)); for other types it is applied as given, as llama.cpp's
    /// attn_factor is.
    /// </summary>
    public double? AttentionFactor { get; init; }

    /// <summary>yarn (DeepSeek form): numerator mscale of get_mscale(s, mscale)/get_mscale(s, mscale_all_dim).</summary>
    public double? MScale { get; init; }

    /// <summary>yarn (DeepSeek form): denominator mscale_all_dim.</summary>
    public double? MScaleAllDim { get; init; }

    /// <summary>yarn: round the correction range outward to whole dimensions (HF default true; gpt-oss uses false).</summary>
    public bool Truncate { get; init; } = true;

    /// <summary>longrope: per-pair divisors used while the current length is ≤ L (length rotaryDim/2).</summary>
    public double[]? ShortFactor { get; init; }

    /// <summary>longrope: per-pair divisors used once the current length exceeds L (length rotaryDim/2).</summary>
    public double[]? LongFactor { get; init; }

    /// <summary>xpos: the scale base (torchscale's 512): ζ_j^(n/scale_base).</summary>
    public double XposScaleBase { get; init; } = 512.0;

    /// <summary>GGUF rope.scaling.finetuned: whether the model was fine-tuned with this scaling (informational).</summary>
    public bool? Finetuned { get; init; }

    /// <summary>
    /// Per-pair frequency divisors from a GGUF <c>rope_freqs</c> tensor (ggml divides θ_i by ff_i after the type's
    /// own computation). Null when absent.
    /// </summary>
    public double[]? FrequencyFactors { get; init; }

    /// <summary>Plain RoPE, no scaling.</summary>
    public static RopeScaling None { get; } = new();

    /// <summary>
    /// True when the frequencies depend on the current sequence length (dynamic, longrope), so keys in a KV cache
    /// must be kept unrotated; see <see cref="RotaryEmbedding"/>.
    /// </summary>
    public bool IsLengthDependent => Type is RopeTypes.Dynamic || (Type is RopeTypes.LongRope && !SameFactors(ShortFactor, LongFactor));

    /// <summary>True for xPos, whose queries and keys carry a per-position magnitude scale.</summary>
    public bool HasXpos => Type == RopeTypes.Xpos;

    /// <summary>
    /// Rejects contradictory or impossible settings with a <see cref="ModelFormatException"/> naming
    /// <paramref name="source"/> and the parameter. <paramref name="maxContext"/> is the model's current maximum
    /// context (max_position_embeddings / GGUF context_length), needed for llama3's L &lt; max check.
    /// <paramref name="rotaryDim"/>, when known, checks per-pair array lengths.
    /// </summary>
    public void Validate(string source, int? maxContext = null, int? rotaryDim = null)
    {
        void Fail(string key, string problem) => throw new ModelFormatException(source, $"RoPE scaling '{Type}': {problem}", key: key);
        static bool Finite(double v) => double.IsFinite(v);

        if (string.IsNullOrEmpty(Type) || !RopeTypes.Table.ContainsKey(Type))
            throw new ModelFormatException(source, $"unknown RoPE scaling type '{Type}'; known types: {string.Join(", ", RopeTypes.Names)}", key: "rope_type");
        if (!Finite(Factor) || Factor < 1.0)
            Fail("factor", $"factor must be a finite number ≥ 1 (s < 1 would shrink the context), got {Factor}");
        if (Type is RopeTypes.Default or RopeTypes.Xpos && Factor != 1.0)
            Fail("factor", $"type '{Type}' does not scale, so a factor of {Factor} contradicts it; use 'linear', 'ntk', 'yarn', ...");
        bool needsL = Type is RopeTypes.Dynamic or RopeTypes.Yarn or RopeTypes.Llama3 or RopeTypes.LongRope;
        if (needsL && OriginalContext is null)
            Fail("original_max_position_embeddings", "needs the original (pre-training) context length L");
        if (OriginalContext is { } l && l <= 0)
            Fail("original_max_position_embeddings", $"original context must be positive, got {l}");
        if (AttentionFactor is { } af && (!Finite(af) || af <= 0))
            Fail("attention_factor", $"attention factor must be a finite positive number, got {af}");
        if (Type == RopeTypes.Llama3)
        {
            if (!Finite(LowFreqFactor) || LowFreqFactor <= 0) Fail("low_freq_factor", $"must be positive, got {LowFreqFactor}");
            if (!Finite(HighFreqFactor) || HighFreqFactor <= LowFreqFactor)
                Fail("high_freq_factor", $"must exceed low_freq_factor {LowFreqFactor}, got {HighFreqFactor}");
            if (maxContext is { } max && OriginalContext >= max)
                Fail("original_max_position_embeddings", $"original context {OriginalContext} must be below the current maximum context {max}");
        }
        if (Type == RopeTypes.Yarn)
        {
            if (!Finite(BetaFast) || !Finite(BetaSlow) || BetaSlow <= 0 || BetaFast <= BetaSlow)
                Fail("beta_fast", $"need beta_fast > beta_slow > 0, got beta_fast={BetaFast}, beta_slow={BetaSlow}");
            if (MScale is { } m && (!Finite(m) || m <= 0)) Fail("mscale", $"must be positive, got {m}");
            if (MScaleAllDim is { } ma && (!Finite(ma) || ma <= 0)) Fail("mscale_all_dim", $"must be positive, got {ma}");
        }
        if (Type == RopeTypes.LongRope)
        {
            if (ShortFactor is null || LongFactor is null) Fail("short_factor", "longrope needs both short_factor and long_factor arrays");
            if (ShortFactor!.Length != LongFactor!.Length)
                Fail("long_factor", $"short_factor has {ShortFactor.Length} entries but long_factor has {LongFactor.Length}");
            CheckArray("short_factor", ShortFactor, rotaryDim, Fail);
            CheckArray("long_factor", LongFactor, rotaryDim, Fail);
        }
        else if (ShortFactor is not null || LongFactor is not null)
            Fail("long_factor", "short/long factor arrays are only meaningful for 'longrope'");
        if (Type == RopeTypes.Xpos && (!Finite(XposScaleBase) || XposScaleBase <= 0))
            Fail("xpos_scale_base", $"must be positive, got {XposScaleBase}");
        if (FrequencyFactors is not null) CheckArray("rope_freqs", FrequencyFactors, rotaryDim, Fail);
        if (rotaryDim is { } d && (d <= 2 || d % 2 != 0) && Type is RopeTypes.Ntk or RopeTypes.Dynamic)
            Fail("rope.dimension_count", $"ntk/dynamic need an even rotary dimension above 2 (exponent d/(d−2)), got {d}");
    }

    private static void CheckArray(string key, double[] values, int? rotaryDim, Action<string, string> fail)
    {
        if (rotaryDim is { } d && values.Length != d / 2)
            fail(key, $"has {values.Length} entries, expected rotaryDim/2 = {d / 2}");
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]) || values[i] <= 0)
                fail(key, $"entry {i} must be a finite positive number, got {values[i]}");
    }

    private static bool SameFactors(double[]? a, double[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    /// <summary>Value equality including the per-pair arrays (records compare arrays by reference otherwise).</summary>
    public bool Equals(RopeScaling? other) =>
        other is not null && Type == other.Type && Factor.Equals(other.Factor) && OriginalContext == other.OriginalContext
        && LowFreqFactor.Equals(other.LowFreqFactor) && HighFreqFactor.Equals(other.HighFreqFactor)
        && BetaFast.Equals(other.BetaFast) && BetaSlow.Equals(other.BetaSlow) && AttentionFactor.Equals(other.AttentionFactor)
        && MScale.Equals(other.MScale) && MScaleAllDim.Equals(other.MScaleAllDim) && Truncate == other.Truncate
        && SameFactors(ShortFactor, other.ShortFactor) && SameFactors(LongFactor, other.LongFactor)
        && XposScaleBase.Equals(other.XposScaleBase) && Finetuned == other.Finetuned
        && SameFactors(FrequencyFactors, other.FrequencyFactors);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Type, Factor, OriginalContext, BetaFast, AttentionFactor, Truncate, ShortFactor?.Length, FrequencyFactors?.Length);

    /// <summary>Short human-readable description, e.g. "yarn s=4 L=4096".</summary>
    public override string ToString()
    {
        var parts = new List<string> { Type };
        if (Factor != 1.0) parts.Add($"s={Factor:G6}");
        if (OriginalContext is { } l) parts.Add($"L={l}");
        if (AttentionFactor is { } a) parts.Add($"attn={a:G6}");
        if (Type == RopeTypes.Llama3) parts.Add($"low={LowFreqFactor:G6} high={HighFreqFactor:G6}");
        if (Type == RopeTypes.Yarn) parts.Add($"beta_fast={BetaFast:G6} beta_slow={BetaSlow:G6}{(Truncate ? "" : " no-truncate")}");
        if (MScale is { } m) parts.Add($"mscale={m:G6}");
        if (MScaleAllDim is { } ma) parts.Add($"mscale_all_dim={ma:G6}");
        if (Type == RopeTypes.Xpos) parts.Add($"scale_base={XposScaleBase:G6}");
        if (FrequencyFactors is not null) parts.Add($"rope_freqs[{FrequencyFactors.Length}]");
        return string.Join(' ', parts);
    }
}
