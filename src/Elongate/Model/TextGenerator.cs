using System.Diagnostics;

namespace Elongate.Model;

/// <summary>Timing of one generation: prompt processing and token-by-token decoding, reported separately like llama.cpp.</summary>
public sealed record GenerationStats(int PromptTokens, int GeneratedTokens, TimeSpan PromptTime, TimeSpan GenerationTime)
{
    public double PromptTokensPerSecond => PromptTokens / Math.Max(PromptTime.TotalSeconds, 1e-9);
    public double GeneratedTokensPerSecond => GeneratedTokens / Math.Max(GenerationTime.TotalSeconds, 1e-9);
}

/// <summary>
/// Autoregressive generation: the prompt goes through the model as one batch, then each sampled token is fed back
/// until the step budget, the context or an end token is reached.
/// </summary>
public static class TextGenerator
{
    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/> (which should already
    /// hold BOS if the model wants one), calling <paramref name="onToken"/> as each arrives. Stops early at EOS, or at
    /// BOS (llama2.c's story delimiter), or when the session's context is full.
    /// </summary>
    public static GenerationStats Generate(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler, Action<int>? onToken = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("the prompt needs at least one token (BOS)", nameof(prompt));
        var config = session.Config;
        var sw = Stopwatch.StartNew();
        var logits = session.Forward(prompt.ToArray());
        var promptTime = sw.Elapsed;
        sw.Restart();
        int generated = 0;
        while (generated < maxNewTokens)
        {
            int next = sampler.Sample(logits);
            if (next == config.EosTokenId || next == config.BosTokenId) break;
            generated++;
            onToken?.Invoke(next);
            if (generated == maxNewTokens || session.Position >= session.ContextLength) break;
            logits = session.Forward(next);
        }
        return new GenerationStats(prompt.Count, generated, promptTime, sw.Elapsed);
    }
}
