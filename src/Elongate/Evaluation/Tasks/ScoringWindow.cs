namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The tokens one continuation is scored on, as lm-evaluation-harness's loglikelihood builds them: trailing whitespace
/// of the context moves onto the continuation; the continuation's tokens are those of (context + continuation),
/// encoded whole, past the count of the context's own encoding; the model reads BOS (when the vocabulary adds one),
/// the context's own tokens, then the continuation's. Local and remote models build their inputs here, so both
/// score exactly the same token sequence.
/// </summary>
/// <param name="Tokens">The model's input: BOS?, context tokens, continuation tokens, left-truncated to the context length.</param>
/// <param name="ContinuationTokens">The last this-many entries of <see cref="Tokens"/> are the continuation's.</param>
/// <param name="ContextTokens">Tokens before the continuation that survived truncation (BOS included).</param>
public sealed record ScoringWindow(int[] Tokens, int ContinuationTokens, int ContextTokens)
{
    /// <summary>lm-evaluation-harness's whitespace rule: the context's trailing whitespace becomes the continuation's start.</summary>
    public static (string Context, string Continuation) MoveTrailingWhitespace(string context, string continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        int end = context.Length;
        while (end > 0 && char.IsWhiteSpace(context[end - 1])) end--;
        return (context[..end], context[end..] + continuation);
    }

    /// <summary>
    /// The context's tokens and the continuation's tokens (after the whitespace move), with <paramref name="tokenize"/>
    /// encoding without BOS/EOS. The context's tokens are the same for every continuation of one context, which lets a
    /// scorer compute them once.
    /// </summary>
    /// <exception cref="ArgumentException">The continuation is empty, or adds no token to the context.</exception>
    public static (int[] Context, int[] Continuation) Split(Func<string, int[]> tokenize, string context, string continuation)
    {
        var (ctx, cont) = MoveTrailingWhitespace(context, continuation);
        if (cont.Length == 0) throw new ArgumentException("the continuation is empty: there is nothing to score", nameof(continuation));
        var whole = tokenize(ctx + cont);
        var ctxTokens = ctx.Length == 0 ? [] : tokenize(ctx);
        if (whole.Length <= ctxTokens.Length)
            throw new ArgumentException($"the continuation '{Shorten(cont)}' adds no token to its context ({whole.Length} tokens whole, {ctxTokens.Length} for the context)", nameof(continuation));
        return (ctxTokens, whole[ctxTokens.Length..]);
    }

    /// <summary>
    /// The input for one continuation: <paramref name="bos"/> (when ≥ 0), the context's tokens, the continuation's;
    /// when that exceeds <paramref name="contextLength"/> the last <paramref name="contextLength"/> tokens are kept
    /// (the start of the context, BOS first, is dropped, as lm-evaluation-harness truncates on the left).
    /// </summary>
    /// <exception cref="ArgumentException">Nothing precedes the continuation (no BOS and an empty context), or the continuation alone fills the context.</exception>
    public static ScoringWindow Build(int bos, ReadOnlySpan<int> context, ReadOnlySpan<int> continuation, int contextLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        if (continuation.IsEmpty) throw new ArgumentException("no continuation tokens to score", nameof(continuation));
        int before = (bos >= 0 ? 1 : 0) + context.Length;
        if (before == 0)
            throw new ArgumentException("the context is empty and the vocabulary adds no BOS: the continuation's first token has nothing to be predicted from");
        if (continuation.Length >= contextLength)
            throw new ArgumentException($"the continuation is {continuation.Length} tokens; a {contextLength}-token context leaves no room for anything before it");
        var all = new int[before + continuation.Length];
        if (bos >= 0) all[0] = bos;
        context.CopyTo(all.AsSpan(bos >= 0 ? 1 : 0));
        continuation.CopyTo(all.AsSpan(before));
        int drop = Math.Max(0, all.Length - contextLength);
        return new ScoringWindow(drop == 0 ? all : all[drop..], continuation.Length, before - drop);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
