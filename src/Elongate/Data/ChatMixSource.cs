using System.Globalization;

namespace Elongate.Data;

/// <summary>One input of <see cref="ChatMixer"/>: a JSON Lines instruction file and, optionally, its weight.</summary>
/// <param name="Path">The file (any format <see cref="InstructionReader"/> reads).</param>
/// <param name="Weight">Its share of the mix relative to the other weights; null when not given (then no source may
/// have one, and each source weighs as many examples as it holds).</param>
public sealed record ChatMixSource(string Path, double? Weight)
{
    /// <summary>
    /// Parses "FILE" or "FILE:WEIGHT". The weight is what follows the last colon when it reads as a number, so
    /// "C:\data\a.jsonl" and "a:b.jsonl" are plain paths.
    /// </summary>
    /// <exception cref="ArgumentException">The spec is empty or the weight is negative or not finite.</exception>
    public static ChatMixSource Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        int colon = spec.LastIndexOf(':');
        if (colon > 0 && double.TryParse(spec.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var w))
        {
            if (!double.IsFinite(w) || w < 0) throw new ArgumentException($"--source {spec}: the weight must be a finite number ≥ 0");
            return new ChatMixSource(spec[..colon], w);
        }
        return new ChatMixSource(spec, null);
    }
}
