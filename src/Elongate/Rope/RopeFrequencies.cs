namespace Elongate.Rope;

/// <summary>
/// What one RoPE type yields for a rotary dimension d: the d/2 inverse frequencies (radians per position, in double
/// precision so that float rounding happens once, at the cos/sin table) and the attention magnitude factor that HF
/// folds into cos and sin (equivalently, a factor mscale² on every attention logit).
/// </summary>
public sealed record RopeFrequencies(double[] InverseFrequencies, double AttentionFactor);
