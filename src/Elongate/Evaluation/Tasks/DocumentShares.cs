namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The one rule both prompt builders (<see cref="TaskPromptBuilder"/> for generation, <see cref="LEvalChoicePromptBuilder"/>
/// for log-likelihood choice) use to share a token budget among documents: after the prompt's fixed part, each
/// few-shot example's document gets at most 1/(k + 1) of the room and the question's document the rest; the prompt is
/// then rendered and re-measured, because a cut can merge or split tokens at its edges, and the excess is given up
/// (the question's document first) until it fits. Each pass gives up at least one token, so this ends.
/// </summary>
internal static class DocumentShares
{
    /// <summary>The fitted prompt: its text, its length in tokens and how many tokens of the question's document it keeps.</summary>
    internal readonly record struct Fitted(string Text, int Tokens, int QueryKeep);

    /// <param name="render">Renders the prompt keeping the given tokens of each example's document and of the question's.</param>
    /// <param name="count">Tokens of a rendered prompt.</param>
    /// <param name="exampleLengths">Tokens of each example's whole document.</param>
    /// <param name="queryLength">Tokens of the question's whole document.</param>
    /// <param name="budget">Tokens the prompt may take.</param>
    /// <param name="fixedTokens">Tokens of the prompt with every document empty.</param>
    internal static Fitted Fit(Func<int[], int, string> render, Func<string, int> count, IReadOnlyList<int> exampleLengths,
        int queryLength, int budget, int fixedTokens)
    {
        int room = Math.Max(0, budget - fixedTokens);
        int share = room / (exampleLengths.Count + 1);
        var keep = exampleLengths.Select(n => Math.Min(n, share)).ToArray();
        int queryKeep = Math.Min(queryLength, room - keep.Sum());
        var text = render(keep, queryKeep);
        int tokens = count(text);
        while (tokens > budget && (queryKeep > 0 || keep.Any(k => k > 0)))
        {
            int excess = tokens - budget;
            int fromQuery = Math.Min(excess, queryKeep);
            queryKeep -= fromQuery;
            excess -= fromQuery;
            for (int i = 0; excess > 0 && i < keep.Length; i++)
            {
                int take = Math.Min(excess, keep[i]);
                keep[i] -= take;
                excess -= take;
            }
            text = render(keep, queryKeep);
            tokens = count(text);
        }
        return new Fitted(text, tokens, queryKeep);
    }
}
