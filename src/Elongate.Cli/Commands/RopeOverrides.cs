using System.CommandLine;
using Elongate.Model;
using Elongate.Rope;

namespace Elongate.Cli.Commands;

/// <summary>
/// The RoPE options every command that runs a model accepts. Each given option overrides the model file's value;
/// <see cref="Apply"/> returns the new config and the names of what the command line changed, so `info` can say
/// where each value came from.
/// </summary>
internal sealed class RopeOverrides
{
    public Option<float?> Base { get; } = new("--rope-base") { Description = "RoPE base frequency θ (ABF: e.g. 500000)" };
    public Option<string?> Scaling { get; } = new("--rope-scaling") { Description = $"RoPE scaling type: {string.Join(", ", RopeTypes.Table.Keys)}" };
    public Option<double?> Factor { get; } = new("--rope-factor") { Description = "Scaling factor s (context multiplier)" };
    public Option<int?> OriginalContext { get; } = new("--original-context") { Description = "Original (pre-extension) context length L, for dynamic, yarn, llama3, longrope" };
    public Option<double?> BetaFast { get; } = new("--yarn-beta-fast") { Description = "YaRN β_fast (default 32)" };
    public Option<double?> BetaSlow { get; } = new("--yarn-beta-slow") { Description = "YaRN β_slow (default 1)" };
    public Option<double?> AttnFactor { get; } = new("--yarn-attn-factor") { Description = "Attention factor (YaRN default 0.1·ln s + 1)" };
    public Option<double?> LowFreq { get; } = new("--llama3-low-freq-factor") { Description = "Llama 3 low_freq_factor (default 1)" };
    public Option<double?> HighFreq { get; } = new("--llama3-high-freq-factor") { Description = "Llama 3 high_freq_factor (default 4)" };
    public Option<double?> XposScaleBase { get; } = new("--xpos-scale-base") { Description = "xPos scale base (default 512)" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Base, Scaling, Factor, OriginalContext, BetaFast, BetaSlow, AttnFactor, LowFreq, HighFreq, XposScaleBase })
            command.Options.Add(o);
    }

    /// <summary>Applies the given options to <paramref name="config"/>; validates the result (clear error on contradictions).</summary>
    public (LlamaConfig Config, IReadOnlySet<string> Overridden) Apply(LlamaConfig config, ParseResult parse, string source)
    {
        var changed = new HashSet<string>();
        var c = config;
        if (parse.GetValue(Base) is { } b) { c = c with { RopeTheta = b }; changed.Add("base"); }
        var s = c.RopeScaling ?? RopeScaling.None;
        var before = s;
        if (parse.GetValue(Scaling) is { } type)
        {
            if (!RopeTypes.Table.ContainsKey(type))
                throw new ArgumentException($"--rope-scaling: unknown type '{type}'; known: {string.Join(", ", RopeTypes.Table.Keys)}");
            s = type == s.Type ? s : new RopeScaling { Type = type, OriginalContext = s.OriginalContext };
            changed.Add("type");
        }
        if (parse.GetValue(Factor) is { } f) { s = s with { Factor = f }; changed.Add("factor"); }
        if (parse.GetValue(OriginalContext) is { } l) { s = s with { OriginalContext = l }; changed.Add("original_context"); }
        if (parse.GetValue(BetaFast) is { } bf) { s = s with { BetaFast = bf }; changed.Add("beta_fast"); }
        if (parse.GetValue(BetaSlow) is { } bs) { s = s with { BetaSlow = bs }; changed.Add("beta_slow"); }
        if (parse.GetValue(AttnFactor) is { } af) { s = s with { AttentionFactor = af }; changed.Add("attention_factor"); }
        if (parse.GetValue(LowFreq) is { } lf) { s = s with { LowFreqFactor = lf }; changed.Add("low_freq_factor"); }
        if (parse.GetValue(HighFreq) is { } hf) { s = s with { HighFreqFactor = hf }; changed.Add("high_freq_factor"); }
        if (parse.GetValue(XposScaleBase) is { } xb) { s = s with { XposScaleBase = xb }; changed.Add("xpos_scale_base"); }
        if (!ReferenceEquals(s, before))
        {
            // Types that need L default to the model's trained context when neither file nor command line gives it.
            if (s.OriginalContext is null && s.Type is RopeTypes.Dynamic or RopeTypes.Yarn or RopeTypes.Llama3 or RopeTypes.LongRope)
                s = s with { OriginalContext = config.MaxPositionEmbeddings };
            c = c with { RopeScaling = s == RopeScaling.None ? null : s };
        }
        c.RopeScaling?.Validate(source, null, c.RotaryDim);
        return (c, changed);
    }
}
