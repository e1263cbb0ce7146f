using System.Diagnostics;
using Elongate.Tokenization;

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
    public static GenerationStats Generate(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler, Action<int>? onToken = null) =>
        Generate(session, prompt, maxNewTokens, sampler, onToken, stopIds: null, CancellationToken.None);

    /// <summary>
    /// As above, and also stops at any of <paramref name="stopIds"/> (a vocabulary's end-of-generation ids: EOS, EOT,
    /// &lt;|im_end|&gt;…), when <paramref name="onToken"/> returns false (a stop string was seen), or when
    /// <paramref name="cancel"/> fires (checked before each token). A stop id is not reported; the last reported
    /// token is not fed to the model, so <see cref="InferenceSession.Position"/> tells how many tokens the cache holds.
    /// </summary>
    public static GenerationStats Generate(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler,
        Func<int, bool> onToken, IReadOnlyCollection<int>? stopIds, CancellationToken cancel) =>
        Run(session, prompt, maxNewTokens, sampler, onToken, stopIds, cancel);

    private static GenerationStats Generate(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler,
        Action<int>? onToken, IReadOnlyCollection<int>? stopIds, CancellationToken cancel) =>
        Run(session, prompt, maxNewTokens, sampler, id => { onToken?.Invoke(id); return true; }, stopIds, cancel);

    private static GenerationStats Run(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler,
        Func<int, bool> onToken, IReadOnlyCollection<int>? stopIds, CancellationToken cancel)
    {
        if (prompt.Count == 0) throw new ArgumentException("the prompt needs at least one token (BOS)", nameof(prompt));
        var config = session.Config;
        var sw = Stopwatch.StartNew();
        cancel.ThrowIfCancellationRequested();
        var logits = session.Forward(prompt.ToArray());
        var promptTime = sw.Elapsed;
        sw.Restart();
        int generated = 0;
        while (generated < maxNewTokens && !cancel.IsCancellationRequested)
        {
            int next = sampler.Sample(logits);
            if (next == config.EosTokenId || next == config.BosTokenId || (stopIds is not null && stopIds.Contains(next))) break;
            generated++;
            if (!onToken(next)) break;
            if (generated == maxNewTokens || session.Position >= session.ContextLength) break;
            logits = session.Forward(next);
        }
        return new GenerationStats(prompt.Count, generated, promptTime, sw.Elapsed);
    }
    /// <summary>
    /// Generates text: tokens are decoded as they come (<see cref="StreamingDecoder"/>), held back while they could
    /// start one of <paramref name="stopStrings"/> (<see cref="StopStringFilter"/>), and the final text is passed to
    /// <paramref name="onText"/> piece by piece. Stops at <paramref name="stopIds"/>, a stop string, the budget, the
    /// context or cancellation, and says which.
    /// </summary>
    public static TextGeneration GenerateText(InferenceSession session, IReadOnlyList<int> prompt, int maxNewTokens, Sampler sampler,
        ITokenizer tokenizer, IEnumerable<string> stopStrings, IReadOnlyCollection<int>? stopIds, Action<string>? onText, CancellationToken cancel)
    {
        var decoder = new StreamingDecoder(tokenizer);
        var stops = new StopStringFilter(stopStrings);
        var generated = new List<int>();
        bool stoppedByText = false;
        var stats = Generate(session, prompt, maxNewTokens, sampler, id =>
        {
            generated.Add(id);
            var (text, stop) = stops.Push(decoder.Push(id));
            if (text.Length > 0) onText?.Invoke(text);
            stoppedByText = stop;
            return !stop;
        }, stopIds, cancel);
        if (!stoppedByText)
        {
            var rest = stops.Push(decoder.Flush()).Text + stops.Flush();
            if (rest.Length > 0) onText?.Invoke(rest);
        }
        var reason = cancel.IsCancellationRequested ? StopReason.Cancelled
            : stoppedByText || generated.Count < maxNewTokens && session.Position < session.ContextLength ? StopReason.Stop
            : session.Position >= session.ContextLength ? StopReason.Context
            : StopReason.Length;
        return new TextGeneration(stops.Text, generated, stats, reason);
    }
}

/// <summary>The result of <see cref="TextGenerator.GenerateText"/>: the text (up to a stop string), the tokens generated, timings, and why it ended.</summary>
public sealed record TextGeneration(string Text, IReadOnlyList<int> Tokens, GenerationStats Stats, StopReason Reason);
