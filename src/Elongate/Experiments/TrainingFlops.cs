using Elongate.Model;
using Elongate.Training;

namespace Elongate.Experiments;

/// <summary>
/// Training compute in the convention of Chinchilla (Hoffmann et al. 2022, appendix F) that the paper's Table 10
/// follows: per trained token, 6 FLOPs per weight a token passes through (2 forward, 4 backward) — the non-embedding
/// parameters N plus the output matrix d·V (the input embedding is a lookup) — plus attention's quadratic term,
/// 12·L·T·d: per layer the scores QKᵀ and the weighted sum of values each cost 2·T·d forward per token, times 3 for
/// forward + backward. So FLOPs per token = 6·(N + d·V) + 12·L·T·d, with L layers, T the sequence length and d the
/// attention width (heads × head dim). For Llama 2 7B (N + d·V ≈ 6.6·10⁹, L = 32, d = 4,096) the quadratic term is
/// 14% of the total at 4,096 tokens and 57% at 32,768, which is where a short-then-long curriculum saves compute.
/// </summary>
/// <remarks>
/// The count is the convention's, not this engine's work: causal attention needs only about half of the score and
/// value products (the FlashAttention kernels skip the masked blocks), so the quadratic term measured on a real kernel
/// is about 6·L·T·d. Measured seconds are reported beside the FLOPs for that reason.
/// </remarks>
public static class TrainingFlops
{
    /// <summary>The formula as the reports print it.</summary>
    public const string Formula = "FLOPs per token = 6·(N + d·V) + 12·L·T·d";

    /// <summary>Weights a token passes through: non-embedding parameters plus the output matrix.</summary>
    public static double MatrixParameters(LlamaConfig c) => ModelPresets.NonEmbeddingParameters(c) + (double)c.HiddenSize * c.VocabSize;

    /// <summary>Training FLOPs per token of a model of config <paramref name="c"/> at sequence length <paramref name="seqLen"/>.</summary>
    public static double PerToken(LlamaConfig c, int seqLen) =>
        6.0 * MatrixParameters(c) + 12.0 * c.NumLayers * seqLen * ((double)c.NumHeads * c.HeadDim);

    /// <summary>The attention term's share of <see cref="PerToken"/>.</summary>
    public static double AttentionShare(LlamaConfig c, int seqLen) =>
        12.0 * c.NumLayers * seqLen * ((double)c.NumHeads * c.HeadDim) / PerToken(c, seqLen);
}
