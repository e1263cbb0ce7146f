namespace Elongate.Model;

/// <summary>
/// How the next token is chosen. Temperature 0 is greedy (argmax). Otherwise the candidates are cut to the
/// <see cref="TopK"/> most likely (0 = all), then to the smallest set whose probability reaches <see cref="TopP"/>
/// (1 = all), and one is drawn from what is left, renormalized, after dividing logits by the temperature —
/// the order llama.cpp's default sampler chain uses (top-k → top-p → temperature).
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0f;
    public int TopK { get; init; } = 0;
    public float TopP { get; init; } = 1f;
    public int Seed { get; init; } = 42;

    public static SamplingOptions Greedy { get; } = new();

    /// <summary>Rejects settings that have no meaning, naming the option.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature)) throw new ArgumentException($"--temperature must be ≥ 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"--top-k must be ≥ 0, got {TopK}");
        if (!(TopP > 0f && TopP <= 1f)) throw new ArgumentException($"--top-p must be in (0, 1], got {TopP}");
    }
}
