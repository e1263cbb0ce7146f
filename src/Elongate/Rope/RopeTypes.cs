using System.Collections.Frozen;

namespace Elongate.Rope;

/// <summary>
/// The name → function table of RoPE types (transformers' ROPE_INIT_FUNCTIONS), one small function per type, all in
/// double precision. Formulas, with θ_i = b^(−2i/d), s = factor, L = original context:
/// <list type="bullet">
/// <item><c>default</c>: θ_i (RoFormer, Su et al. 2021). ABF (Xiong et al. 2023) is this with a larger base.</item>
/// <item><c>linear</c>: θ_i / s (Position Interpolation, Chen et al. 2023).</item>
/// <item><c>ntk</c>: base b' = b·s^(d/(d−2)) (bloc97's NTK-aware scaling).</item>
/// <item><c>dynamic</c>: b' = b·((s·ℓ/L) − (s−1))^(d/(d−2)), ℓ = max(current length, L) (emozilla; HF's formula).</item>
/// <item><c>yarn</c>: ramp between corr(β_fast) and corr(β_slow), corr(r) = d·ln(L/(2πr))/(2·ln b);
/// θ'_i = (θ_i/s)(1−γ_i) + θ_i·γ_i; attention factor 0.1·ln s + 1 (Peng et al. 2023), or the DeepSeek
/// mscale/mscale_all_dim ratio.</item>
/// <item><c>llama3</c>: wavelength bands L/high_freq_factor and L/low_freq_factor with a linear blend between (Meta's
/// Llama 3.1 reference code).</item>
/// <item><c>longrope</c>: θ_i / f_i with f = short or long factors chosen by the current length; attention factor
/// √(1 + ln s / ln L) (Ding et al. 2024, Phi-3).</item>
/// <item><c>xpos</c>: default θ_i; the per-position query/key scale is <see cref="XposZeta"/> (Sun et al. 2022).</item>
/// </list>
/// </summary>
/// <remarks>
/// <para><b>Peers matched.</b> Frequencies equal transformers' modeling_rope_utils formulas (default, linear, dynamic,
/// yarn incl. mscale/mscale_all_dim and truncate, llama3, longrope, defaults β_fast 32, β_slow 1, low/high 1/4).
/// YaRN's ramp uses HF's and ggml's correction range (floor/ceil, clamped to [0, d−1], +0.001 when it collapses).
/// GGUF keys are llama.cpp's (llama-arch.cpp), with its conventions: missing type = linear, attn_factor multiplies
/// YaRN's 0.1·ln s + 1, yarn_log_multiplier = 0.1·mscale_all_dim, rope_freqs divides θ_i.</para>
/// <para><b>Where Elongate differs.</b> (1) Everything is computed in double and rounded once to float; HF builds
/// inv_freq and p·θ in float32 and ggml accumulates θ by repeated float multiplication, so at p ≈ 32k their angles can be
/// off by ~1e-3 rad. (2) Dynamic NTK and longrope follow a causal per-query length rule with unrotated cached keys
/// (see <see cref="RotaryEmbedding"/>); HF uses the whole prompt's length for every row and leaves cached keys rotated
/// with stale frequencies (transformers #25104); llama.cpp has no dynamic type and picks longrope's factor set once from
/// the configured context size. (3) ggml's yarn also has ext_factor (a partial ramp) and applies rope.scaling.factor
/// to every type; Elongate supports only ext_factor = 1 (an error otherwise) and writes the factor key only for
/// linear/yarn/longrope, using rope_freqs for ntk/llama3 so llama.cpp computes the same frequencies. (4) An explicit
/// attention_factor is honoured for every type (as llama.cpp's attn_factor), where HF ignores it outside yarn/longrope.
/// (5) transformers' newer yarn recomputes s = max_position_embeddings / original when both exist; Elongate uses the
/// factor as written and keeps L separate.</para>
/// </remarks>
public static class RopeTypes
{
    public const string Default = "default";
    public const string Linear = "linear";
    public const string Ntk = "ntk";
    public const string Dynamic = "dynamic";
    public const string Yarn = "yarn";
    public const string Llama3 = "llama3";
    public const string LongRope = "longrope";
    public const string Xpos = "xpos";

    /// <summary>The type table. Functions assume a validated <see cref="RopeScaling"/>; use <see cref="Compute"/>.</summary>
    public static IReadOnlyDictionary<string, RopeInitFunction> Table { get; } = new Dictionary<string, RopeInitFunction>
    {
        [Default] = ComputeDefault,
        [Linear] = ComputeLinear,
        [Ntk] = ComputeNtk,
        [Dynamic] = ComputeDynamic,
        [Yarn] = ComputeYarn,
        [Llama3] = ComputeLlama3,
        [LongRope] = ComputeLongRope,
        [Xpos] = ComputeDefault,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Known type names, in the order documented above.</summary>
    public static IReadOnlyList<string> Names { get; } = [Default, Linear, Ntk, Dynamic, Yarn, Llama3, LongRope, Xpos];

    /// <summary>
    /// Frequencies and attention factor of <paramref name="scaling"/> for positions up to
    /// <paramref name="currentLength"/>. Applies the table function, then a GGUF rope_freqs divisor if present, then an
    /// explicit <see cref="RopeScaling.AttentionFactor"/>. Throws <see cref="ArgumentException"/> for a bad base or
    /// dimension (programming errors: configuration errors are caught earlier by <see cref="RopeScaling.Validate"/>).
    /// </summary>
    public static RopeFrequencies Compute(double ropeBase, int rotaryDim, RopeScaling? scaling = null, int currentLength = 1)
    {
        scaling ??= RopeScaling.None;
        if (!double.IsFinite(ropeBase) || ropeBase <= 1) throw new ArgumentOutOfRangeException(nameof(ropeBase), ropeBase, "RoPE base must be a finite number above 1");
        if (rotaryDim < 2 || rotaryDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(rotaryDim), rotaryDim, "rotary dimension must be even and at least 2");
        if (currentLength < 1) throw new ArgumentOutOfRangeException(nameof(currentLength), currentLength, "current length must be at least 1");
        scaling.Validate("<rope settings>", rotaryDim: rotaryDim);
        var f = Table[scaling.Type](ropeBase, rotaryDim, scaling, currentLength);
        if (scaling.FrequencyFactors is { } ff)
            for (int i = 0; i < f.InverseFrequencies.Length; i++) f.InverseFrequencies[i] /= ff[i];
        return scaling.AttentionFactor is { } a ? f with { AttentionFactor = a } : f;
    }

    /// <summary>θ_i = b^(−2i/d) for i in [0, d/2).</summary>
    public static double[] DefaultInverseFrequencies(double ropeBase, int rotaryDim)
    {
        var inv = new double[rotaryDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = Math.Pow(ropeBase, -2.0 * i / rotaryDim);
        return inv;
    }

    private static RopeFrequencies ComputeDefault(double b, int d, RopeScaling s, int n) => new(DefaultInverseFrequencies(b, d), 1.0);

    private static RopeFrequencies ComputeLinear(double b, int d, RopeScaling s, int n)
    {
        var inv = DefaultInverseFrequencies(b, d);
        for (int i = 0; i < inv.Length; i++) inv[i] /= s.Factor;
        return new(inv, 1.0);
    }

    private static RopeFrequencies ComputeNtk(double b, int d, RopeScaling s, int n) =>
        new(DefaultInverseFrequencies(b * Math.Pow(s.Factor, d / (d - 2.0)), d), 1.0);

    /// <summary>Dynamic NTK base for a sequence of <paramref name="currentLength"/> positions (= b at or below L).</summary>
    public static double DynamicBase(double ropeBase, int rotaryDim, double factor, int originalContext, int currentLength)
    {
        double l = Math.Max(currentLength, originalContext);
        return ropeBase * Math.Pow(factor * l / originalContext - (factor - 1), rotaryDim / (rotaryDim - 2.0));
    }

    private static RopeFrequencies ComputeDynamic(double b, int d, RopeScaling s, int n) =>
        new(DefaultInverseFrequencies(DynamicBase(b, d, s.Factor, s.OriginalContext!.Value, n), d), 1.0);

    /// <summary>YaRN's corr(r) = d·ln(L/(2πr)) / (2·ln b): the (fractional) pair index that turns r times over L.</summary>
    public static double YarnCorrectionDim(double rotations, int rotaryDim, double ropeBase, int originalContext) =>
        rotaryDim * Math.Log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(ropeBase));

    /// <summary>YaRN's get_mscale: 0.1·m·ln s + 1 for s &gt; 1, else 1.</summary>
    public static double YarnMScale(double factor, double mscale = 1.0) => factor <= 1 ? 1.0 : 0.1 * mscale * Math.Log(factor) + 1.0;

    /// <summary>yarn's default attention factor: the DeepSeek ratio when both mscales are given, else get_mscale(s).</summary>
    public static double YarnAttentionFactor(RopeScaling s) =>
        s.MScale is { } m && s.MScaleAllDim is { } ma && m != 0 && ma != 0
            ? YarnMScale(s.Factor, m) / YarnMScale(s.Factor, ma)
            : YarnMScale(s.Factor);

    /// <summary>The per-pair extrapolation weight γ_i of YaRN (1 = keep θ_i, 0 = fully interpolate to θ_i/s).</summary>
    public static double[] YarnExtrapolationWeights(double ropeBase, int rotaryDim, RopeScaling s)
    {
        int l = s.OriginalContext!.Value;
        double low = YarnCorrectionDim(s.BetaFast, rotaryDim, ropeBase, l);
        double high = YarnCorrectionDim(s.BetaSlow, rotaryDim, ropeBase, l);
        if (s.Truncate) { low = Math.Floor(low); high = Math.Ceiling(high); }
        low = Math.Max(low, 0); high = Math.Min(high, rotaryDim - 1);
        if (high == low) high += 0.001; // as HF: avoid 0/0 when the band collapses
        var gamma = new double[rotaryDim / 2];
        for (int i = 0; i < gamma.Length; i++)
            gamma[i] = 1.0 - Math.Clamp((i - low) / (high - low), 0.0, 1.0);
        return gamma;
    }

    private static RopeFrequencies ComputeYarn(double b, int d, RopeScaling s, int n)
    {
        var theta = DefaultInverseFrequencies(b, d);
        var gamma = YarnExtrapolationWeights(b, d, s);
        var inv = new double[theta.Length];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = theta[i] / s.Factor * (1 - gamma[i]) + theta[i] * gamma[i];
        return new(inv, YarnAttentionFactor(s));
    }

    private static RopeFrequencies ComputeLlama3(double b, int d, RopeScaling s, int n)
    {
        double l = s.OriginalContext!.Value;
        double lowWavelen = l / s.LowFreqFactor, highWavelen = l / s.HighFreqFactor;
        var inv = DefaultInverseFrequencies(b, d);
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen < highWavelen) continue; // high-frequency band: unchanged
            if (wavelen > lowWavelen) { inv[i] /= s.Factor; continue; } // low-frequency band: interpolated
            double smooth = (l / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
        }
        return new(inv, 1.0);
    }

    /// <summary>longrope's default attention factor √(1 + ln s / ln L) (1 when s ≤ 1).</summary>
    public static double LongRopeAttentionFactor(double factor, int originalContext) =>
        factor <= 1 ? 1.0 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(originalContext));

    private static RopeFrequencies ComputeLongRope(double b, int d, RopeScaling s, int n)
    {
        int l = s.OriginalContext!.Value;
        var ext = n > l ? s.LongFactor! : s.ShortFactor!;
        if (ext.Length != d / 2) throw new ArgumentException($"longrope factor arrays have {ext.Length} entries, rotary dimension {d} needs {d / 2}");
        var inv = DefaultInverseFrequencies(b, d);
        for (int i = 0; i < inv.Length; i++) inv[i] /= ext[i];
        return new(inv, LongRopeAttentionFactor(s.Factor, l));
    }

    /// <summary>xPos per-pair decay base ζ_j = (2j + 0.4·d)/(1.4·d) (torchscale's XPOS.scale), d = rotary dimension.</summary>
    public static double[] XposZeta(int rotaryDim)
    {
        var z = new double[rotaryDim / 2];
        for (int j = 0; j < z.Length; j++) z[j] = (2.0 * j + 0.4 * rotaryDim) / (1.4 * rotaryDim);
        return z;
    }
}
